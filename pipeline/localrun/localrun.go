// Package localrun decides how one container of an ECS task definition runs on a laptop,
// as a Dagger service, for `deploy --env local` and `serve`: its user, working directory,
// environment, secrets, writable mounts, port, entry point and command, and what differs
// from ECS. It also decides how the local health probe polls. It holds no Dagger types:
// package main applies a Spec field by field, in order.
package localrun

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/taskdef"
)

// EnvVar is one plain environment variable.
type EnvVar struct {
	Name  string
	Value string
}

// Secret is one secret of the container: on ECS its value comes from ValueFrom (Secrets
// Manager or SSM); locally it gets a random throwaway value.
type Secret struct {
	Name      string
	ValueFrom string
}

// Spec is how the container runs locally. Empty fields keep the image's own settings.
type Spec struct {
	// Container is the container's name in the task definition.
	Container string
	// User is the task definition's user (uid[:gid] or a name); empty keeps the image's.
	User string
	// Workdir is the task definition's workingDirectory; empty keeps the image's.
	Workdir string
	// Env is the task definition's environment, in file order.
	Env []EnvVar
	// Secrets are the task definition's secrets, in file order; each gets a random value.
	Secrets []Secret
	// TmpfsPaths are the writable mount points, mounted as empty tmpfs directories.
	TmpfsPaths []string
	// Port is the first port mapping's container port, else the app's configured port.
	Port int
	// Entrypoint and Command replace the image's when set.
	Entrypoint []string
	Command    []string
	// Notes say what runs differently from ECS, for the report.
	Notes []string
}

// FromTaskDefinition decides how the container named container runs locally. defaultPort
// is the app's port from the environments file, used when the container maps no port.
func FromTaskDefinition(def *taskdef.Definition, container string, defaultPort int) (Spec, error) {
	td, err := def.TaskDefinition()
	if err != nil {
		return Spec{}, fmt.Errorf("run locally: %w", err)
	}
	var cd *types.ContainerDefinition
	var others []string
	for i := range td.ContainerDefinitions {
		if name := deref(td.ContainerDefinitions[i].Name); name == container {
			cd = &td.ContainerDefinitions[i]
		} else {
			others = append(others, name)
		}
	}
	if cd == nil {
		return Spec{}, fmt.Errorf("run locally: container %q is not in %s (it has %s)", container, def.Source(), strings.Join(def.ContainerNames(), ", "))
	}

	s := Spec{Container: container, User: deref(cd.User), Workdir: deref(cd.WorkingDirectory)}
	for _, kv := range cd.Environment {
		s.Env = append(s.Env, EnvVar{Name: deref(kv.Name), Value: deref(kv.Value)})
	}
	for _, sec := range cd.Secrets {
		s.Secrets = append(s.Secrets, Secret{Name: deref(sec.Name), ValueFrom: deref(sec.ValueFrom)})
		s.Notes = append(s.Notes, fmt.Sprintf("secret %s (from %s on ECS) set to a random local value", deref(sec.Name), deref(sec.ValueFrom)))
	}
	for _, f := range cd.EnvironmentFiles {
		s.Notes = append(s.Notes, fmt.Sprintf("environment file %s (%s) is not loaded locally", deref(f.Value), f.Type))
	}

	volumes := map[string]types.Volume{}
	for _, v := range td.Volumes {
		volumes[deref(v.Name)] = v
	}
	for _, mp := range cd.MountPoints {
		path, vol := deref(mp.ContainerPath), deref(mp.SourceVolume)
		if mp.ReadOnly != nil && *mp.ReadOnly {
			s.Notes = append(s.Notes, fmt.Sprintf("read-only mount point %s (volume %s) is not mounted locally", path, vol))
			continue
		}
		s.TmpfsPaths = append(s.TmpfsPaths, path)
		if v, ok := volumes[vol]; ok && (v.EfsVolumeConfiguration != nil || v.FsxWindowsFileServerVolumeConfiguration != nil || v.DockerVolumeConfiguration != nil || v.Host != nil && v.Host.SourcePath != nil) {
			s.Notes = append(s.Notes, fmt.Sprintf("mount point %s (volume %s) is an empty tmpfs locally, not the volume ECS mounts", path, vol))
		}
	}

	s.Port = defaultPort
	if len(cd.PortMappings) > 0 && cd.PortMappings[0].ContainerPort != nil {
		s.Port = int(*cd.PortMappings[0].ContainerPort)
	}
	if s.Port < 1 || s.Port > 65535 {
		return Spec{}, fmt.Errorf("run locally: container %q of %s: port %d is not a TCP port (expected 1-65535 from portMappings[0].containerPort or app.port)", container, def.Source(), s.Port)
	}
	s.Entrypoint = cd.EntryPoint
	s.Command = cd.Command

	if cd.ReadonlyRootFilesystem != nil && *cd.ReadonlyRootFilesystem {
		s.Notes = append(s.Notes, "readonlyRootFilesystem is enforced by ECS, not by the local run; only the task definition's writable mounts are tmpfs here")
	}
	if len(others) > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("only %s runs locally; the task's other containers (%s) do not", container, strings.Join(others, ", ")))
	}
	return s, nil
}

// Probe is how the local health check polls the app.
type Probe struct {
	// Path is the health path (with its query, if any).
	Path string
	// Timeout bounds the whole probe, start included.
	Timeout time.Duration
}

// Probe intervals: quick at first, since a warm local start takes well under a second,
// then once a second.
var probeIntervals = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}

const probeMaxInterval = time.Second

// NewProbe validates the health path and the overall timeout.
func NewProbe(healthPath string, timeout time.Duration) (Probe, error) {
	if !strings.HasPrefix(healthPath, "/") {
		return Probe{}, fmt.Errorf("health path %q: must start with / (app.healthPath)", healthPath)
	}
	if _, err := url.Parse(healthPath); err != nil {
		return Probe{}, fmt.Errorf("health path %q: %w", healthPath, err)
	}
	if timeout <= 0 {
		return Probe{}, fmt.Errorf("health probe timeout %s: must be positive (the environment's waitTimeout)", timeout)
	}
	return Probe{Path: healthPath, Timeout: timeout}, nil
}

// URL is the address of the attempt-th probe (from 1) at endpoint (scheme://host:port).
// nonce makes every attempt a distinct URL, so that no cached answer stands in for a
// live one; it joins the path's own query, if any.
func (p Probe) URL(endpoint string, attempt int, nonce string) string {
	sep := "?"
	if strings.Contains(p.Path, "?") {
		sep = "&"
	}
	return fmt.Sprintf("%s%s%sfargate-probe=%d-%s", strings.TrimSuffix(endpoint, "/"), p.Path, sep, attempt, url.QueryEscape(nonce))
}

// Wait is how long to wait after the attempt-th failed probe (from 1).
func (p Probe) Wait(attempt int) time.Duration {
	if attempt >= 1 && attempt <= len(probeIntervals) {
		return probeIntervals[attempt-1]
	}
	return probeMaxInterval
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
