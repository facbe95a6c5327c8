package scan

import (
	"fmt"
	"io"
)

// SupportedSchemaVersion is the Trivy JSON report schema this package reads.
const SupportedSchemaVersion = 2

// Report is the part of a Trivy JSON report the gate needs. Fields Trivy adds that are
// not listed here are skipped; every listed field except SchemaVersion is optional.
type Report struct {
	SchemaVersion int
	ArtifactName  string
	ArtifactType  string
	Results       []Result
}

// Result is one scan target: an OS package database, a language lock file, a file
// scanned for secrets, a config file.
type Result struct {
	Target            string
	Class             string // os-pkgs, lang-pkgs, secret, config, license
	Type              string // alpine, debian, gomod, npm, dockerfile, ...
	Vulnerabilities   []Vulnerability
	Misconfigurations []Misconfiguration
	Secrets           []Secret
}

// Vulnerability is one entry of Result.Vulnerabilities.
type Vulnerability struct {
	VulnerabilityID  string
	PkgName          string
	PkgID            string
	PkgPath          string
	PURL             string // PkgIdentifier.PURL
	InstalledVersion string
	FixedVersion     string
	Status           string
	Severity         string
	Title            string
	PrimaryURL       string
}

// Misconfiguration is one entry of Result.Misconfigurations. Only Status FAIL counts.
type Misconfiguration struct {
	ID          string
	AVDID       string
	Title       string
	Description string
	Message     string
	Resolution  string
	Severity    string
	PrimaryURL  string
	Status      string
}

// Secret is one entry of Result.Secrets. Match is Trivy's line with the secret masked.
type Secret struct {
	RuleID    string
	Category  string
	Severity  string
	Title     string
	StartLine int
	EndLine   int
	Match     string
}

// Parse stream-decodes a Trivy JSON report. It rejects input that is not a single JSON
// object, that lacks SchemaVersion or has one other than 2, and truncated documents.
// Values of unlisted fields are skipped but still checked to be valid JSON.
func Parse(r io.Reader) (*Report, error) {
	l := newLexer(r)
	rep := &Report{}
	sawSchema := false
	err := l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "SchemaVersion":
			rep.SchemaVersion, err = l.integer()
			if err == nil {
				sawSchema = true
				if rep.SchemaVersion != SupportedSchemaVersion {
					return fmt.Errorf("SchemaVersion %d is not supported (expected %d)", rep.SchemaVersion, SupportedSchemaVersion)
				}
			}
		case "ArtifactName":
			rep.ArtifactName, err = l.str()
		case "ArtifactType":
			rep.ArtifactType, err = l.str()
		case "Results":
			err = l.array(func(int) error {
				var res Result
				if err := decodeResult(l, &res); err != nil {
					return fmt.Errorf("Results[%d]: %w", len(rep.Results), err)
				}
				rep.Results = append(rep.Results, res)
				return nil
			})
		default:
			err = l.skip()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("parse trivy report: %w", err)
	}
	if end, err := l.atEnd(); err != nil {
		return nil, fmt.Errorf("parse trivy report: %w", err)
	} else if !end {
		return nil, fmt.Errorf("parse trivy report: unexpected data after the report object at offset %d", l.offset())
	}
	if !sawSchema {
		return nil, fmt.Errorf("parse trivy report: SchemaVersion is missing (expected %d); is this a Trivy JSON report?", SupportedSchemaVersion)
	}
	return rep, nil
}

func decodeResult(l *lexer, res *Result) error {
	return l.object(func(key []byte) error {
		var err error
		k := string(key) // few keys per result: kept for the error message
		switch k {
		case "Target":
			res.Target, err = l.str()
		case "Class":
			res.Class, err = l.str()
		case "Type":
			res.Type, err = l.str()
		case "Vulnerabilities":
			err = l.array(func(i int) error {
				res.Vulnerabilities = append(res.Vulnerabilities, Vulnerability{})
				if err := decodeVulnerability(l, &res.Vulnerabilities[len(res.Vulnerabilities)-1]); err != nil {
					return fmt.Errorf("[%d]: %w", i, err)
				}
				return nil
			})
		case "Misconfigurations":
			err = l.array(func(i int) error {
				res.Misconfigurations = append(res.Misconfigurations, Misconfiguration{})
				if err := decodeMisconfiguration(l, &res.Misconfigurations[len(res.Misconfigurations)-1]); err != nil {
					return fmt.Errorf("[%d]: %w", i, err)
				}
				return nil
			})
		case "Secrets":
			err = l.array(func(i int) error {
				res.Secrets = append(res.Secrets, Secret{})
				if err := decodeSecret(l, &res.Secrets[len(res.Secrets)-1]); err != nil {
					return fmt.Errorf("[%d]: %w", i, err)
				}
				return nil
			})
		default:
			err = l.skip()
		}
		if err != nil {
			return fmt.Errorf("target %q: %s: %w", res.Target, k, err)
		}
		return nil
	})
}

func decodeVulnerability(l *lexer, v *Vulnerability) error {
	return l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "VulnerabilityID":
			v.VulnerabilityID, err = l.str()
		case "PkgName":
			v.PkgName, err = l.str()
		case "PkgID":
			v.PkgID, err = l.str()
		case "PkgPath":
			v.PkgPath, err = l.str()
		case "PkgIdentifier":
			err = l.object(func(k []byte) error {
				if string(k) == "PURL" {
					var e error
					v.PURL, e = l.str()
					return e
				}
				return l.skip()
			})
		case "InstalledVersion":
			v.InstalledVersion, err = l.str()
		case "FixedVersion":
			v.FixedVersion, err = l.str()
		case "Status":
			v.Status, err = l.str()
		case "Severity":
			v.Severity, err = l.str()
		case "Title":
			v.Title, err = l.str()
		case "PrimaryURL":
			v.PrimaryURL, err = l.str()
		default:
			err = l.skip()
		}
		return err
	})
}

func decodeMisconfiguration(l *lexer, m *Misconfiguration) error {
	return l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "ID":
			m.ID, err = l.str()
		case "AVDID":
			m.AVDID, err = l.str()
		case "Title":
			m.Title, err = l.str()
		case "Description":
			m.Description, err = l.str()
		case "Message":
			m.Message, err = l.str()
		case "Resolution":
			m.Resolution, err = l.str()
		case "Severity":
			m.Severity, err = l.str()
		case "PrimaryURL":
			m.PrimaryURL, err = l.str()
		case "Status":
			m.Status, err = l.str()
		default:
			err = l.skip()
		}
		return err
	})
}

func decodeSecret(l *lexer, s *Secret) error {
	return l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "RuleID":
			s.RuleID, err = l.str()
		case "Category":
			s.Category, err = l.str()
		case "Severity":
			s.Severity, err = l.str()
		case "Title":
			s.Title, err = l.str()
		case "StartLine":
			s.StartLine, err = l.integer()
		case "EndLine":
			s.EndLine, err = l.integer()
		case "Match":
			s.Match, err = l.str()
		default:
			err = l.skip()
		}
		return err
	})
}
