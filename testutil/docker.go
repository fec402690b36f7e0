package testutil

import (
	"os"
	"path/filepath"
)

// DockerSocketLikely is a cheap first look for a Docker engine: DOCKER_HOST, or one of the
// usual sockets. A caller that gets yes asks the engine itself next (testcontainers' health
// check); no means there is certainly none, and saves that check's timeout.
func DockerSocketLikely() bool {
	if os.Getenv("DOCKER_HOST") != "" {
		return true
	}
	socks := []string{"/var/run/docker.sock"}
	if home, err := os.UserHomeDir(); err == nil {
		socks = append(socks, filepath.Join(home, ".docker", "run", "docker.sock"), filepath.Join(home, ".docker", "desktop", "docker.sock"))
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		socks = append(socks, filepath.Join(dir, "docker.sock"))
	}
	for _, s := range socks {
		if _, err := os.Stat(s); err == nil {
			return true
		}
	}
	return false
}
