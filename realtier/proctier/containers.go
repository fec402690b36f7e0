package proctier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/testutil"
)

// ContainersName is the containers tier: the process tier's node processes, with NATS and
// Redis in Docker containers started by testcontainers-go instead of embedded servers. One
// NATS server carries every node, so there are no routes to cut: partitions are refused
// (scenarios.TierProblems).
const ContainersName = "containers"

// Images the containers tier runs.
const (
	NATSImage  = "nats:2.10-alpine"
	RedisImage = "redis:7-alpine"
)

// ErrNoDocker is the containers tier's error on a machine without a Docker engine.
var ErrNoDocker = errors.New("the containers tier needs a Docker engine (DOCKER_HOST, or /var/run/docker.sock), and none answers here; use --tier real, which embeds NATS and Redis")

func init() { testutil.RegisterTier(ContainersName, openContainers) }

// DockerAvailable reports whether a Docker engine answers: a look for its socket first, so a
// machine without Docker answers at once, then testcontainers' own health check.
func DockerAvailable() error {
	if !testutil.DockerSocketLikely() {
		return ErrNoDocker
	}
	p, err := testcontainers.ProviderDefault.GetProvider()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Health(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	return nil
}

func openContainers(spec *testutil.Spec) (testutil.Tier, error) {
	bin, err := binary(spec, ContainersName)
	if err != nil {
		return nil, err
	}
	if err := DockerAvailable(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctr, err := testcontainers.Run(ctx, NATSImage,
		testcontainers.WithExposedPorts("4222/tcp"),
		testcontainers.WithWaitStrategy(wait.ForLog("Server is ready")))
	if err != nil {
		if ctr != nil {
			_ = ctr.Terminate(context.Background())
		}
		return nil, fmt.Errorf("tier containers: NATS: %w", err)
	}
	url, err := ctr.PortEndpoint(ctx, "4222/tcp", "nats")
	if err != nil {
		_ = ctr.Terminate(context.Background())
		return nil, fmt.Errorf("tier containers: NATS: %w", err)
	}
	t, err := newTier(ContainersName, bin, containerNetwork{url: url, ctr: ctr})
	if err != nil {
		return nil, err
	}
	t.newRedis = startRedisContainer
	return t, nil
}

// containerNetwork is one NATS server in a container: every node's URL is its URL.
type containerNetwork struct {
	url string
	ctr testcontainers.Container
}

func (c containerNetwork) ClientURL(string) string { return c.url }
func (c containerNetwork) Links() faults.Links     { return nil }
func (c containerNetwork) Close()                  { _ = c.ctr.Terminate(context.Background()) }

func startRedisContainer() (*sharedRedis, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctr, err := tcredis.Run(ctx, RedisImage)
	if err != nil {
		if ctr != nil {
			_ = ctr.Terminate(context.Background())
		}
		return nil, err
	}
	url, err := ctr.ConnectionString(ctx)
	if err != nil {
		_ = ctr.Terminate(context.Background())
		return nil, err
	}
	return &sharedRedis{url: url, what: "container " + RedisImage, close: func() { _ = ctr.Terminate(context.Background()) }}, nil
}
