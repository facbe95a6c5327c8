//go:build tools

package main

// daggertypecheck aliases the source of dagger.io/dagger, found through `go list -m`, and
// builds nothing that imports it; this import (never built: the tools tag is never set)
// keeps the SDK in go.mod, where `go mod tidy` would otherwise drop it. gomodtidy checks
// that its version is dagger.json's engine version.
import _ "dagger.io/dagger"
