package chain

import (
	"dagger/fargate/pipeline/buildspec"
	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/localrun"
	"dagger/fargate/pipeline/taskdef"
)

// LocalSpec is how the local run starts the environment's container.
type LocalSpec = localrun.Spec

// buildSpec is what the image build gets for each platform asked: the build args and labels
// of the environments file and the run (the same for every platform).
func (s *Session) buildSpec(f *config.File, platforms []string) (BuildSpec, error) {
	spec := BuildSpec{Context: s.SourcePath(f.App.Context), Dockerfile: f.App.Dockerfile}
	for _, p := range platforms {
		b, err := buildspec.New(buildspec.Input{
			App: f.App, Platform: p, Revision: s.GitRevision, Created: s.CommitTime, SourceURL: s.SourceURL,
			BuilderImage: s.BuilderImage, RuntimeImage: s.RuntimeImage,
		})
		if err != nil {
			return BuildSpec{}, err
		}
		spec.Platforms = append(spec.Platforms, b.Platform)
		spec.BuildArgs, spec.Labels = pairs(b.Args), pairs(b.Labels)
	}
	return spec, nil
}

func pairs(args []buildspec.Arg) [][2]string {
	out := make([][2]string, 0, len(args))
	for _, a := range args {
		out = append(out, [2]string{a.Name, a.Value})
	}
	return out
}

// LocalSpec is the local run of the environment's container.
func (s *Session) LocalSpec(def *taskdef.Definition, e config.Environment, f *config.File) (LocalSpec, error) {
	return localrun.FromTaskDefinition(def, e.Container, f.App.Port)
}
