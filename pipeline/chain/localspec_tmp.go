package chain

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/taskdef"
)

// LocalSpec is how the local run starts the container: the task definition's settings.
type LocalSpec struct {
	User       string
	Env        [][2]string
	Secrets    []string // names; each gets a random local value
	Tmpfs      []string
	Port       int
	Entrypoint []string
	Command    []string
	Notes      []string
}

// LocalSpec is the local run of the environment's container.
func (s *Session) LocalSpec(def *taskdef.Definition, e config.Environment, f *config.File) (LocalSpec, error) {
	td, err := def.TaskDefinition()
	if err != nil {
		return LocalSpec{}, err
	}
	for _, cd := range td.ContainerDefinitions {
		if aws.ToString(cd.Name) != e.Container {
			continue
		}
		spec := LocalSpec{User: aws.ToString(cd.User), Port: f.App.Port, Entrypoint: cd.EntryPoint, Command: cd.Command}
		for _, kv := range cd.Environment {
			spec.Env = append(spec.Env, [2]string{aws.ToString(kv.Name), aws.ToString(kv.Value)})
		}
		for _, sc := range cd.Secrets {
			spec.Secrets = append(spec.Secrets, aws.ToString(sc.Name))
			spec.Notes = append(spec.Notes, fmt.Sprintf("secret %s (from %s on ECS) set to a random local value", aws.ToString(sc.Name), aws.ToString(sc.ValueFrom)))
		}
		for _, mp := range cd.MountPoints {
			if !aws.ToBool(mp.ReadOnly) {
				spec.Tmpfs = append(spec.Tmpfs, aws.ToString(mp.ContainerPath))
			}
		}
		if len(cd.PortMappings) > 0 && cd.PortMappings[0].ContainerPort != nil {
			spec.Port = int(*cd.PortMappings[0].ContainerPort)
		}
		if aws.ToBool(cd.ReadonlyRootFilesystem) {
			spec.Notes = append(spec.Notes, "readonlyRootFilesystem is enforced by ECS, not by the local run; only the task definition's writable mounts are tmpfs here")
		}
		return spec, nil
	}
	return LocalSpec{}, fmt.Errorf("run locally: container %q is not in %s (it has %s)", e.Container, def.Source(), strings.Join(def.ContainerNames(), ", "))
}
