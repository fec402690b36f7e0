package broker_test

import "github.com/faultline/faultline/broker/transport/memnet"

type (
	memnetDelivery = memnet.Delivery
	memnetRoute    = memnet.Route
)
