package cosign

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// VerifiedSignature is one signature `cosign verify --output json` accepted.
type VerifiedSignature struct {
	DockerReference string // critical.identity.docker-reference
	ManifestDigest  string // critical.image.docker-manifest-digest
	Type            string // critical.type
	// Issuer and Subject identify a keyless signer (the OIDC issuer and the
	// certificate identity, e.g. the GitHub workflow ref); empty for key signatures.
	Issuer  string
	Subject string
	// Optional holds every optional field (annotations, GitHub workflow claims).
	Optional map[string]any
}

type verifyItem struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// ParseVerifyOutput reads cosign verify's stdout: a JSON array of signature payloads,
// possibly after human-readable lines. An empty list is an error: nothing was verified.
func ParseVerifyOutput(stdout []byte) ([]VerifiedSignature, error) {
	var all []verifyItem
	found := false
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '[' {
			continue
		}
		var items []verifyItem
		if err := json.Unmarshal(line, &items); err != nil {
			return nil, fmt.Errorf("parse cosign verify output: %w", err)
		}
		found = true
		all = append(all, items...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse cosign verify output: %w", err)
	}
	if !found || len(all) == 0 {
		return nil, errors.New("parse cosign verify output: no verified signature in the output")
	}
	out := make([]VerifiedSignature, 0, len(all))
	for _, it := range all {
		v := VerifiedSignature{
			DockerReference: it.Critical.Identity.DockerReference,
			ManifestDigest:  it.Critical.Image.DockerManifestDigest,
			Type:            it.Critical.Type,
			Optional:        it.Optional,
		}
		v.Issuer, _ = it.Optional["Issuer"].(string)
		v.Subject, _ = it.Optional["Subject"].(string)
		out = append(out, v)
	}
	return out, nil
}

// CheckSignedDigest returns an error unless every verified signature is for digest
// (sha256:...): a signature over another manifest does not vouch for this image.
func CheckSignedDigest(sigs []VerifiedSignature, digest string) error {
	if len(sigs) == 0 {
		return fmt.Errorf("image %s has no verified signature", digest)
	}
	for _, s := range sigs {
		if s.ManifestDigest != digest {
			return fmt.Errorf("a verified signature covers %s, not the deployed image %s", s.ManifestDigest, digest)
		}
	}
	return nil
}

// VerifiedAttestation is one attestation `cosign verify-attestation` accepted.
type VerifiedAttestation struct {
	PredicateType string
	// Subjects maps subject names to their sha256 digests.
	Subjects map[string]string
	// Predicate is the statement's predicate, as signed.
	Predicate json.RawMessage
}

// ParseAttestationOutput reads verify-attestation's stdout: one DSSE envelope per line
// whose base64 payload is an in-toto statement.
func ParseAttestationOutput(stdout []byte) ([]VerifiedAttestation, error) {
	var out []VerifiedAttestation
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var env struct {
			PayloadType string `json:"payloadType"`
			Payload     string `json:"payload"`
		}
		if err := json.Unmarshal(line, &env); err != nil {
			return nil, fmt.Errorf("parse cosign attestation output line %d: %w", n, err)
		}
		raw, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			return nil, fmt.Errorf("parse cosign attestation output line %d: payload: %w", n, err)
		}
		var st struct {
			PredicateType string          `json:"predicateType"`
			Predicate     json.RawMessage `json:"predicate"`
			Subject       []struct {
				Name   string            `json:"name"`
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("parse cosign attestation output line %d: statement: %w", n, err)
		}
		a := VerifiedAttestation{PredicateType: st.PredicateType, Subjects: map[string]string{}, Predicate: st.Predicate}
		for _, s := range st.Subject {
			if d := s.Digest["sha256"]; d != "" {
				a.Subjects[s.Name] = "sha256:" + strings.TrimPrefix(d, "sha256:")
			}
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse cosign attestation output: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("parse cosign attestation output: no verified attestation in the output")
	}
	return out, nil
}
