// Command fakeaws runs the fake AWS account of pipeline/internal/fakeaccount as a process of
// its own, for the end-to-end suite (go run ./e2e starts it) or for trying the module by
// hand: the AWS APIs and the control API on one port, the registry the fake ECR hands out on
// another.
//
//	go run ./pipeline/internal/fakeaws/cmd/fakeaws -listen 172.17.0.1 -registry-endpoint http://172.17.0.1:5001
//
// Secrets come from the environment, never from flags (which other users can see):
// FAKEAWS_ECR_PASSWORD is the ECR password the registry accepts, FAKEAWS_ACCESS_KEY_ID the
// only access key ID the AWS APIs accept (empty: any). It prints one line when it is ready
// and runs until interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"dagger/fargate/pipeline/internal/fakeaccount"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fakeaws:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1", "address to listen on (the Docker bridge gateway, e.g. 172.17.0.1, for a Dagger engine in Docker)")
	port := flag.Int("port", 4566, "port of the AWS APIs and the control API (/_fake/)")
	registryPort := flag.Int("registry-port", 5001, "port of the registry")
	endpoint := flag.String("registry-endpoint", "", "registry URL handed out as ECR's proxyEndpoint (default http://LISTEN:REGISTRY-PORT)")
	speed := flag.Float64("speed", 10, "how much faster than the wall clock ECS rollouts run")
	flag.Parse()

	regAddr := net.JoinHostPort(*listen, strconv.Itoa(*registryPort))
	if *endpoint == "" {
		*endpoint = "http://" + regAddr
	}
	acct, err := fakeaccount.New(fakeaccount.Options{
		RegistryEndpoint: *endpoint,
		RegistryPassword: os.Getenv("FAKEAWS_ECR_PASSWORD"),
		AccessKeyID:      os.Getenv("FAKEAWS_ACCESS_KEY_ID"),
		Speed:            *speed,
	})
	if err != nil {
		return err
	}
	running, err := acct.Listen(net.JoinHostPort(*listen, strconv.Itoa(*port)), regAddr)
	if err != nil {
		return err
	}
	fmt.Printf("fakeaws ready: AWS APIs http://%s (control /_fake/), registry %s, handed out as %s\n", running.AWSAddr, running.RegistryAddr, *endpoint)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case err := <-running.Err():
		return err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return running.Close(shutdown)
}
