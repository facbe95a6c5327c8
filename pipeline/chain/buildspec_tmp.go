package chain

import (
	"fmt"
	"maps"
	"slices"

	"dagger/fargate/pipeline/config"
)

// buildSpec is what the image build gets: the build args and labels of the environments file
// and the run, for the platforms asked.
func (s *Session) buildSpec(f *config.File, platforms []string) (BuildSpec, error) {
	for _, p := range platforms {
		switch p {
		case "linux/amd64", "linux/arm64":
		default:
			return BuildSpec{}, fmt.Errorf("build: platform %q is not supported by Fargate (expected linux/amd64 or linux/arm64)", p)
		}
	}
	created := s.now().Format("2006-01-02T15:04:05Z")
	spec := BuildSpec{Platforms: platforms, Context: s.SourcePath(f.App.Context), Dockerfile: f.App.Dockerfile}
	spec.BuildArgs = append(spec.BuildArgs, [2]string{"VERSION", s.GitRevision}, [2]string{"REVISION", s.GitRevision}, [2]string{"CREATED", created})
	for _, k := range slices.Sorted(maps.Keys(f.App.BuildArgs)) {
		spec.BuildArgs = append(spec.BuildArgs, [2]string{k, f.App.BuildArgs[k]})
	}
	spec.Labels = [][2]string{{"org.opencontainers.image.title", f.App.Name}, {"org.opencontainers.image.revision", s.GitRevision}, {"org.opencontainers.image.created", created}}
	if s.SourceURL != "" {
		spec.BuildArgs = append(spec.BuildArgs, [2]string{"SOURCE", s.SourceURL})
		spec.Labels = append(spec.Labels, [2]string{"org.opencontainers.image.source", s.SourceURL})
	}
	if s.BuilderImage != "" {
		spec.BuildArgs = append(spec.BuildArgs, [2]string{"BUILDER_IMAGE", s.BuilderImage})
	}
	if s.RuntimeImage != "" {
		spec.BuildArgs = append(spec.BuildArgs, [2]string{"RUNTIME_IMAGE", s.RuntimeImage})
	}
	return spec, nil
}
