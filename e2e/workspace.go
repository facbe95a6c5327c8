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
	// LeakedKeyFile is the private key the scan-fail variant copies into its image.
	LeakedKeyFile = "e2e-leaked-key.pem"
)

// PrepareSource copies the sample app (sampleDir) to dst and writes the suite's
// environments files and the scan-fail variant's Dockerfile and leaked key. The sample's
// .dockerignore sends the build only Go sources, so the copy's .dockerignore admits the key
// by name: without it the variant's COPY fails (lstat /e2e-leaked-key.pem) before the scan
// gate is reached. The other builds' final images still carry only the binary.
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
	if err := addPreDeployVariants(sampleDir, files); err != nil {
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
	ignore, err := os.ReadFile(filepath.Join(sampleDir, ".dockerignore"))
	if err != nil {
		return err
	}
	files[LeakDockerfile] = string(dockerfile) + "\n# e2e: a private key left in the image; the scan gate must refuse it.\nCOPY " + LeakedKeyFile + " /app-config/deploy_key\n"
	files[LeakedKeyFile] = key
	files[".dockerignore"] = strings.TrimRight(string(ignore), "\n") + "\n# e2e: the scan-fail variant (" + LeakDockerfile + ") copies this key into its image.\n!" + LeakedKeyFile + "\n"
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dst, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Variants derives the suite's environments files from the sample's fargate.yaml. The
// YAML is edited as a node tree, so every other value (dates, quoted IDs) stays as written.
func Variants(sample []byte) (map[string]string, error) {
	edit := func(change func(root *yaml.Node) error) (string, error) {
		var doc yaml.Node
		if err := yaml.Unmarshal(sample, &doc); err != nil {
			return "", fmt.Errorf("read the sample's fargate.yaml: %w", err)
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
			return "", fmt.Errorf("the sample's fargate.yaml is not a mapping")
		}
		root := doc.Content[0]
		// Key signing, kept out of the public transparency log.
		if err := set(root, "signing", map[string]any{"mode": "key", "private": true}); err != nil {
			return "", err
		}
		if err := change(root); err != nil {
			return "", err
		}
		out, err := yaml.Marshal(&doc)
		return string(out), err
	}
	e2e, err := edit(func(*yaml.Node) error { return nil })
	if err != nil {
		return nil, err
	}
	scanFail, err := edit(func(root *yaml.Node) error {
		app := get(root, "app")
		if app == nil {
			return fmt.Errorf("the sample's fargate.yaml has no app block")
		}
		if err := set(app, "dockerfile", LeakDockerfile); err != nil {
			return err
		}
		if err := set(root, "scan", map[string]any{"failOn": []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}, "ignoreUnfixed": false}); err != nil {
			return err
		}
		if envs := get(root, "environments"); envs != nil {
			for i := 1; i < len(envs.Content); i += 2 {
				del(envs.Content[i], "scan")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	broken, err := edit(func(root *yaml.Node) error {
		pre := get(get(root, "environments"), "preprod")
		if pre == nil {
			return fmt.Errorf("the sample's fargate.yaml has no preprod environment")
		}
		return set(pre, BrokenKey, "sample-app-preprod")
	})
	if err != nil {
		return nil, err
	}
	return map[string]string{ConfigE2E: e2e, ConfigScanFail: scanFail, ConfigBroken: broken}, nil
}

// get is the value of key in a mapping node (nil when absent or not a mapping).
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// set replaces (or adds) key in a mapping node with v.
func set(m *yaml.Node, key string, v any) error {
	var val yaml.Node
	if err := val.Encode(v); err != nil {
		return err
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = &val
			return nil
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, &val)
	return nil
}

// del removes key from a mapping node.
func del(m *yaml.Node, key string) {
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
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
