// Package chain decides what each function of the module does and in which order: it loads
// the environments file, refuses bad input before anything changes, runs the gates (approval,
// account, busy service, scan, SBOM, signature, policy) with break-glass, resolves a
// promotion, drives the ECS rollout and the local run, and writes the report with the
// outcome. The container work is behind Steps, which the module implements with Dagger and
// the tests with fakes; AWS is reached through the real SDK clients, which the tests point at
// the wire-level fakes.
package chain
