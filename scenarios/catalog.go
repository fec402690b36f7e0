package scenarios

import (
	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/mailer"
)

// DefaultCatalog is every service of the services catalog (user, product, order, email,
// notification, and any registered with catalog.Register), built on resources shared by the
// whole cluster (one store per model, one outbox per messaging service).
func DefaultCatalog() map[string]ServiceFactory {
	out := map[string]ServiceFactory{}
	for _, name := range catalog.Names() {
		out[name] = func(env *ServiceEnv) (*broker.Service, error) {
			return catalog.New(name, Resources(env))
		}
	}
	return out
}

// Resources returns the cluster's shared service resources, built from the scenario's
// service configuration on first use.
func Resources(env *ServiceEnv) *catalog.Resources {
	return env.Shared("catalog.resources", func() any {
		r := catalog.SimResources()
		cfg := env.Config
		if cfg.JWTSecret != "" {
			r.JWTSecret = []byte(cfg.JWTSecret)
		}
		r.Email = mailer.Config{Latency: cfg.MailLatency, FailureRate: cfg.MailFailureRate}
		r.Notification = r.Email
		r.ProductCacheTTL = cfg.CacheTTL
		return r
	}).(*catalog.Resources)
}
