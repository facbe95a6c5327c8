package main

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// headlineRe matches a report's one-line status (line 3 of the Markdown report), wherever
// the dagger CLI printed it (the result on stdout, or the error, which carries the report,
// on stderr, possibly with a prefix on each line).
var headlineRe = regexp.MustCompile(`\*\*((?:DEPLOYED|FAILED|REFUSED|BAD INPUT|ROLLED BACK|CANCELLED|TIMED OUT|UNKNOWN)[^*\n]*)\*\*`)

// Headline is the status of the last report in out ("DEPLOYED: sample-app-preprod:2").
func Headline(out string) (string, bool) {
	all := headlineRe.FindAllStringSubmatch(out, -1)
	if len(all) == 0 {
		return "", false
	}
	return strings.TrimSpace(all[len(all)-1][1]), true
}

// Field is the value of a row of the report's summary table ("Image", "Started"), with
// inline code marks removed, from the last report in out.
func Field(out, name string) (string, bool) {
	re := regexp.MustCompile(`\|\s*` + regexp.QuoteMeta(name) + `\s*\|\s*(.*?)\s*\|\s*$`)
	var val string
	found := false
	for _, line := range strings.Split(out, "\n") {
		if m := re.FindStringSubmatch(strings.TrimRight(line, "\r")); m != nil {
			val, found = strings.Trim(m[1], "`"), true
		}
	}
	return val, found
}

// Event is one row of the report's rollout timeline.
type Event struct {
	At      time.Time
	Message string
}

var timelineRowRe = regexp.MustCompile(`\|\s*(\d{2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z)\s*\|\s*(.*?)\s*\|\s*$`)

// Timeline reads the last report's timeline. Rows give the time of day only when every
// event is on one day; the date comes from the report's Started field, and a time earlier
// than the one before it is taken to be on the next day.
func Timeline(out string) (started time.Time, events []Event, err error) {
	s, ok := Field(out, "Started")
	if !ok {
		return time.Time{}, nil, fmt.Errorf("the report has no Started field")
	}
	started, err = time.Parse("2006-01-02 15:04:05Z", s)
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("the report's Started field %q: %w", s, err)
	}
	i := strings.LastIndex(out, "Rollout timeline")
	if i < 0 {
		return started, nil, nil
	}
	prev := started
	for _, line := range strings.Split(out[i:], "\n") {
		m := timelineRowRe.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil {
			if strings.Contains(line, "</details>") {
				break
			}
			continue
		}
		var at time.Time
		if len(m[1]) > 8 {
			at, err = time.Parse("2006-01-02 15:04:05Z", m[1])
		} else {
			var tod time.Time
			tod, err = time.Parse("15:04:05", m[1])
			y, mo, d := prev.Date()
			at = time.Date(y, mo, d, tod.Hour(), tod.Minute(), tod.Second(), 0, time.UTC)
			if at.Before(prev.Truncate(time.Second)) {
				at = at.AddDate(0, 0, 1)
			}
		}
		if err != nil {
			return started, nil, fmt.Errorf("timeline row %q: %w", line, err)
		}
		events = append(events, Event{At: at, Message: unescape(m[2])})
		prev = at
	}
	return started, events, nil
}

// unescape undoes the report's Markdown escaping of event text.
func unescape(s string) string {
	r := strings.NewReplacer(`\\`, `\`, "\\`", "`", `\*`, "*", `\_`, "_", `\[`, "[", `\]`, "]", `\|`, "|", `\~`, "~", `\#`, "#", `\!`, "!",
		"&lt;", "<", "&gt;", ">", "&quot;", `"`, "&amp;", "&")
	return r.Replace(s)
}

// Phase is one step of a deploy and how long it took.
type Phase struct {
	Name     string
	Duration time.Duration
}

// phaseOf names the phase a timeline message belongs to, from its prefix.
func phaseOf(msg string) string {
	prefix, _, ok := strings.Cut(msg, ":")
	if !ok {
		return ""
	}
	switch prefix {
	case "build":
		return "build"
	case "scan":
		return "scan"
	case "publish", "ecr":
		return "push"
	case "sign":
		return "sign"
	case "verify", "promote":
		return "verify"
	case "policy":
		return "policy"
	case "run":
		return "run"
	case "deploy":
		return "UpdateService and wait"
	}
	return ""
}

// Phases turns a report's timeline into phase durations. The timeline is cut into runs of
// consecutive events of one phase; a run lasts from the end of the run before it (or the
// report's start) to its own last event, and the last run to the report's end (Started +
// Duration) when that is later. Events with no known prefix belong to the run in progress.
// A phase that comes back (the policy gate runs before the build and after the render) adds
// up its runs; phases are listed in the order they first appear.
func Phases(out string) ([]Phase, error) {
	started, events, err := Timeline(out)
	if err != nil {
		return nil, err
	}
	finished := started
	if d, ok := Field(out, "Duration"); ok {
		if dur, err := time.ParseDuration(d); err == nil {
			finished = started.Add(dur)
		}
	}
	type run struct {
		name string
		end  time.Time
	}
	var runs []run
	for _, e := range events {
		p := phaseOf(e.Message)
		switch {
		case p == "" && len(runs) == 0:
			continue
		case len(runs) > 0 && (p == "" || p == runs[len(runs)-1].name):
			runs[len(runs)-1].end = e.At
		default:
			runs = append(runs, run{name: p, end: e.At})
		}
	}
	if len(runs) > 0 && finished.After(runs[len(runs)-1].end) {
		runs[len(runs)-1].end = finished
	}
	var phases []Phase
	index := map[string]int{}
	prev := started
	for _, r := range runs {
		i, seen := index[r.name]
		if !seen {
			i = len(phases)
			index[r.name] = i
			phases = append(phases, Phase{Name: r.name})
		}
		if r.end.After(prev) {
			phases[i].Duration += r.end.Sub(prev)
			prev = r.end
		}
	}
	return phases, nil
}

// RecordedPhases reads the phases the pipeline timed itself: the report's "Phases" row
// ("build 3.2s · scan + SBOM 1.9s · ..."), to a tenth of a second. ok is false when the
// report has no such row (older reports; Phases reads the timeline then).
func RecordedPhases(out string) (phases []Phase, ok bool, err error) {
	row, found := Field(out, "Phases")
	if !found {
		return nil, false, nil
	}
	for _, part := range strings.Split(row, " · ") {
		i := strings.LastIndex(part, " ")
		if i < 0 {
			return nil, true, fmt.Errorf("phase %q: expected a name and a duration", part)
		}
		d, err := time.ParseDuration(part[i+1:])
		if err != nil {
			return nil, true, fmt.Errorf("phase %q: %w", part, err)
		}
		phases = append(phases, Phase{Name: strings.ReplaceAll(part[:i], `\`, ""), Duration: d})
	}
	return phases, true, nil
}

// FormatPhases prints phases as aligned lines.
func FormatPhases(title string, phases []Phase) string {
	var b strings.Builder
	fmt.Fprintf(&b, "timing %s:\n", title)
	for _, p := range phases {
		d := p.Duration.Round(time.Second)
		if p.Duration < 10*time.Second {
			d = p.Duration.Round(100 * time.Millisecond)
		}
		fmt.Fprintf(&b, "  %-24s %8s\n", p.Name, d)
	}
	return b.String()
}
