package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The environments files the suite writes next to a copy of the sample app.
const (
	// ConfigE2E is the sample's file with key signing (cosign key pair, no transparency log).
	ConfigE2E = "fargate.e2e.yaml"
	// ConfigScanFail builds an image carrying a private key and fails on every severity: its
	// scan gate always fails.
	ConfigScanFail = "fargate.e2e-scanfail.yaml"
	// ConfigBroken has a misspelt key in preprod.
	ConfigBroken = "fargate.e2e-broken.yaml"
	// BrokenKey is the misspelt key.
	BrokenKey = "clustr"
	// LeakDockerfile is the scan-fail variant's Dockerfile.
	LeakDockerfile = "Dockerfile.e2e-leak"
)

// PrepareSource copies the sample app (sampleDir) to dst and writes the suite's
// environments files and the scan-fail variant's Dockerfile and leaked key.
func PrepareSource(sampleDir, dst string) error {
	if err := copyTree(sampleDir, dst); err != nil {
		return fmt.Errorf("copy %s: %w", sampleDir, err)
	}
	orig, err := os.ReadFile(filepath.Join(sampleDir, "fargate.yaml"))
	if err != nil {
		return err
	}
	files, err := Variants(orig)
	if err != nil {
		return err
	}
	dockerfile, err := os.ReadFile(filepath.Join(sampleDir, "Dockerfile"))
	if err != nil {
		return err
	}
	key, err := leakedKey()
	if err != nil {
		return err
	}
	files[LeakDockerfile] = string(dockerfile) + "\n# e2e: a private key left in the image; the scan gate must refuse it.\nCOPY e2e-leaked-key.pem /app-config/deploy-key.pem\n"
	files["e2e-leaked-key.pem"] = key
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dst, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Variants derives the suite's environments files from the sample's fargate.yaml.
func Variants(sample []byte) (map[string]string, error) {
	base, err := parseYAML(sample)
	if err != nil {
		return nil, err
	}
	// Key signing, kept out of the public transparency log.
	base["signing"] = map[string]any{"mode": "key", "private": true}
	e2e, err := yaml.Marshal(base)
	if err != nil {
		return nil, err
	}

	scanFail, _ := parseYAML(e2e)
	scanFail["app"].(map[string]any)["dockerfile"] = LeakDockerfile
	scanFail["scan"] = map[string]any{"failOn": []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}, "ignoreUnfixed": false}
	for _, env := range envs(scanFail) {
		delete(env, "scan")
	}
	sf, err := yaml.Marshal(scanFail)
	if err != nil {
		return nil, err
	}

	broken, _ := parseYAML(e2e)
	preprod, ok := envs(broken)["preprod"]
	if !ok {
		return nil, fmt.Errorf("the sample's fargate.yaml has no preprod environment")
	}
	preprod[BrokenKey] = preprod["cluster"]
	bk, err := yaml.Marshal(broken)
	if err != nil {
		return nil, err
	}
	return map[string]string{ConfigE2E: string(e2e), ConfigScanFail: string(sf), ConfigBroken: string(bk)}, nil
}

func parseYAML(data []byte) (map[string]any, error) {
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("read the sample's fargate.yaml: %w", err)
	}
	if _, ok := m["app"].(map[string]any); !ok {
		return nil, fmt.Errorf("the sample's fargate.yaml has no app block")
	}
	return m, nil
}

func envs(m map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	all, _ := m["environments"].(map[string]any)
	for name, v := range all {
		if e, ok := v.(map[string]any); ok {
			out[name] = e
		}
	}
	return out
}

// leakedKey is a real RSA private key in PEM, generated per run (Trivy's secret scanner
// finds private keys by their PEM armour).
func leakedKey() (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})), nil
}

// copyTree copies regular files and directories, skipping VCS and build leftovers.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular() && !strings.HasSuffix(d.Name(), ".test"):
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o644)
		}
		return nil
	})
}
