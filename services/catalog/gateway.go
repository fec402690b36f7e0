package catalog

import (
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/services/gateway"
)

// GatewayName is the catalog name of the shop's HTTP gateway (service "api").
const GatewayName = "gateway"

// GatewayRateLimit is the catalog gateway's rate limit: per client IP and route, in windows
// of one second (virtual time in a simulation).
var GatewayRateLimit = gateway.RateLimit{Window: time.Second, Limit: 50, Headers: true}

func init() {
	// The shop's API (gateway.Shop) with the cluster's JWT secret and admin@example.com as
	// its admin; a node running it serves HTTP through gateway.Of(node).
	Register(GatewayName, func(r *Resources) (*broker.Service, error) {
		limit := GatewayRateLimit
		g, err := gateway.New(gateway.Shop(gateway.ShopConfig{JWTSecret: r.secret(), Admins: []string{"admin@example.com"}, RateLimit: &limit}))
		if err != nil {
			return nil, err
		}
		return g.Schema(), nil
	})
}
