package scenarios

import (
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/mailer"
)

// ServiceFactory builds a fresh instance of a service for one node from the cluster's shared
// resources (one store per model, the outboxes, the JWT secret), which outlive any one node:
// it is a catalog constructor, called at every (re)start of a node.
type ServiceFactory = catalog.Constructor

// DefaultCatalog is every service of the services catalog (user, product, order, email,
// notification, and any registered with catalog.Register).
func DefaultCatalog() map[string]ServiceFactory {
	out := map[string]ServiceFactory{}
	for _, name := range catalog.Names() {
		ctor, _ := catalog.Lookup(name)
		out[name] = ctor
	}
	return out
}

// Resources returns fresh shared service resources for one run, built from the scenario's
// service configuration.
func Resources(cfg ServiceConfig) *catalog.Resources {
	r := catalog.SimResources()
	ApplyConfig(r, cfg)
	return r
}

// ApplyConfig sets the services' configuration of a scenario on resources (a process node of
// the process tier opens its own stores, then takes the scenario's configuration).
func ApplyConfig(r *catalog.Resources, cfg ServiceConfig) {
	if cfg.JWTSecret != "" {
		r.JWTSecret = []byte(cfg.JWTSecret)
	}
	r.Email = mailer.Config{Latency: cfg.MailLatency, FailureRate: cfg.MailFailureRate}
	r.Notification = r.Email
	r.ProductCacheTTL = cfg.CacheTTL
}
