# The fargate module's default tool images: one `FROM repository:tag@sha256:digest AS name`
# line each. Not a build: the module embeds this file (go:embed) and reads its defaults from
# it, and Dependabot's docker ecosystem (.github/dependabot.yml, directory /pipeline/images)
# reads the same lines and proposes new tags and digests. Every image stays overridable by a
# constructor flag (--trivy-image, --cosign-image, --registry-image).
# images_test.go fails on a line that is not pinned by digest, an unknown or missing name, or a
# README list that disagrees with this file.

# Trivy: vulnerability, secret and IaC scanner (scan gate, SBOM).
FROM aquasec/trivy:0.74.0@sha256:62b1e65e8869bc4b4c6aa4fa2b21595256c7c2f6018a9d9ad61caf87187c1969 AS trivy

# cosign: signs and verifies images by digest.
FROM ghcr.io/sigstore/cosign/cosign:v3.1.3@sha256:9e5c2f2edc34351160407ca3416c61855bdf9403c3c5936e0f0be7fc261611b8 AS cosign

# The CNCF distribution registry (2.8.3): the local registry of `deploy --env local`.
FROM registry:2@sha256:a3d8aaa63ed8681a604f1dea0aa03f100d5895b6a58ace528858a7b332415373 AS registry
