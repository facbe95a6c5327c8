// Package cfnfake is a stateful fake of the CloudFormation change-set API (Query protocol)
// for wire-level tests: ValidateTemplate, DescribeStacks, CreateChangeSet, DescribeChangeSet,
// DeleteChangeSet, ExecuteChangeSet and DescribeStackEvents, registered on a fakeaws.Server.
//
// Change sets are computed from the templates: resources present only in the new template
// are Add, only in the old one Remove, and resources whose definition changed are Modify
// (Replacement False unless the test scripts it with SetReplacement). A change set with no
// changes fails with the message CloudFormation gives. Change sets and stack operations move
// through their in-progress states over successive Describe calls, so callers must poll.
package cfnfake

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"dagger/fargate/pipeline/internal/fakeaws"
)

// NoChangesReason is the status reason CloudFormation gives a change set without changes.
const NoChangesReason = "The submitted information didn't contain changes. Submit different information to create a change set."

// Fake holds the stacks and change sets of one fake account.
type Fake struct {
	mu          sync.Mutex
	stacks      map[string]*stack
	changeSets  map[string]*changeSet // by ARN
	seq         int
	now         time.Time
	replacement map[string]string // logical ID -> True|Conditional for the next change sets
	failCS      string            // reason the next change set fails with
	failExec    *execFailure
	// Steps is how many Describe calls an in-progress change set or stack operation answers
	// before it completes (default 2).
	Steps int
	// PageSize bounds list answers (changes, events); 0 means 100.
	PageSize int
	// Executions counts ExecuteChangeSet calls that were accepted.
	Executions int
}

type execFailure struct{ logicalID, reason string }

type resource struct {
	Type string
	Def  string // canonical YAML of the whole resource definition
}

type stack struct {
	name, id  string
	status    string
	reason    string
	resources map[string]resource
	outputs   []string
	pending   *changeSet // change set being executed
	countdown int
	events    []event // oldest first
	failing   *execFailure
	params    map[string]string
	protected bool
}

type event struct {
	id, logicalID, resourceType, status, reason string
	at                                          time.Time
}

type change struct {
	action, logicalID, physicalID, resourceType, replacement string
	scope                                                    []string
}

type changeSet struct {
	name, arn, stackName, kind string
	status, reason, execStatus string
	countdown                  int
	changes                    []change
	resources                  map[string]resource
	outputs                    []string
	failReason                 string
	capabilities               []string
	params                     map[string]string
}

// New registers the fake's actions on srv.
func New(srv *fakeaws.Server) *Fake {
	f := &Fake{
		stacks:      map[string]*stack{},
		changeSets:  map[string]*changeSet{},
		now:         time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC),
		replacement: map[string]string{},
		Steps:       2,
	}
	for action, h := range map[string]fakeaws.QueryHandler{
		"ValidateTemplate":            f.validateTemplate,
		"DescribeStacks":              f.describeStacks,
		"CreateChangeSet":             f.createChangeSet,
		"DescribeChangeSet":           f.describeChangeSet,
		"DeleteChangeSet":             f.deleteChangeSet,
		"ExecuteChangeSet":            f.executeChangeSet,
		"DescribeStackEvents":         f.describeStackEvents,
		"UpdateTerminationProtection": f.updateTerminationProtection,
	} {
		srv.HandleQuery("cloudformation", action, h)
	}
	return f
}

// SetReplacement makes every later change set that modifies logicalID report this
// Replacement value (True or Conditional).
func (f *Fake) SetReplacement(logicalID, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replacement[logicalID] = value
}

// FailNextChangeSet makes the next change set end FAILED with reason.
func (f *Fake) FailNextChangeSet(reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failCS = reason
}

// FailNextExecution makes the next executed change set fail on logicalID with reason, so
// the stack rolls back (ROLLBACK_COMPLETE after a create, UPDATE_ROLLBACK_COMPLETE after an
// update).
func (f *Fake) FailNextExecution(logicalID, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failExec = &execFailure{logicalID: logicalID, reason: reason}
}

// StackStatus returns a stack's status, or "" when it does not exist.
func (f *Fake) StackStatus(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.stacks[name]; s != nil {
		return s.status
	}
	return ""
}

// StackResources returns the logical IDs of a stack's resources, sorted.
func (f *Fake) StackResources(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stacks[name]
	if s == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(s.resources))
}

// TerminationProtected reports whether a stack has termination protection on.
func (f *Fake) TerminationProtected(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stacks[name]
	return s != nil && s.protected
}

// StackParameters returns the parameter values of a stack's last successful operation.
func (f *Fake) StackParameters(name string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.stacks[name]; s != nil {
		return s.params
	}
	return nil
}

// ChangeSetCount returns how many change sets exist (not deleted).
func (f *Fake) ChangeSetCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.changeSets)
}

func (f *Fake) tick() time.Time {
	f.now = f.now.Add(time.Second)
	return f.now
}

func validationError(format string, args ...any) error {
	return fakeaws.Errorf("ValidationError", format, args...)
}

// parseTemplate reads the Parameters, Resources and Outputs of a YAML or JSON template
// (short-form intrinsic tags are kept as part of the canonical text).
func parseTemplate(body string) (params []param, res map[string]resource, outputs []string, err error) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(body), &root); err != nil {
		return nil, nil, nil, fmt.Errorf("Template format error: %v", err)
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, nil, nil, fmt.Errorf("Template format error: not a mapping")
	}
	top := root.Content[0]
	res = map[string]resource{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i].Value, top.Content[i+1]
		switch key {
		case "Parameters":
			for j := 0; j+1 < len(val.Content); j += 2 {
				p := param{Key: val.Content[j].Value}
				for k := 0; k+1 < len(val.Content[j+1].Content); k += 2 {
					if val.Content[j+1].Content[k].Value == "Default" {
						p.Default, p.HasDefault = val.Content[j+1].Content[k+1].Value, true
					}
				}
				params = append(params, p)
			}
		case "Resources":
			for j := 0; j+1 < len(val.Content); j += 2 {
				def := val.Content[j+1]
				typ := ""
				for k := 0; k+1 < len(def.Content); k += 2 {
					if def.Content[k].Value == "Type" {
						typ = def.Content[k+1].Value
					}
				}
				if typ == "" {
					return nil, nil, nil, fmt.Errorf("Template format error: resource %s has no Type", val.Content[j].Value)
				}
				var buf bytes.Buffer
				enc := yaml.NewEncoder(&buf)
				_ = enc.Encode(def)
				res[val.Content[j].Value] = resource{Type: typ, Def: buf.String()}
			}
		case "Outputs":
			for j := 0; j+1 < len(val.Content); j += 2 {
				outputs = append(outputs, val.Content[j].Value)
			}
		}
	}
	if len(res) == 0 {
		return nil, nil, nil, fmt.Errorf("Template format error: At least one Resources member must be defined.")
	}
	return params, res, outputs, nil
}

type param struct {
	Key        string
	Default    string
	HasDefault bool
}

func (f *Fake) validateTemplate(form url.Values) (string, error) {
	params, _, _, err := parseTemplate(form.Get("TemplateBody"))
	if err != nil {
		return "", validationError("%v", err)
	}
	var b strings.Builder
	b.WriteString("<Parameters>")
	for _, p := range params {
		b.WriteString("<member><ParameterKey>" + fakeaws.XMLEscape(p.Key) + "</ParameterKey>")
		if p.HasDefault {
			b.WriteString("<DefaultValue>" + fakeaws.XMLEscape(p.Default) + "</DefaultValue>")
		}
		b.WriteString("<NoEcho>false</NoEcho></member>")
	}
	b.WriteString("</Parameters><Capabilities><member>CAPABILITY_NAMED_IAM</member></Capabilities>")
	return b.String(), nil
}

func (f *Fake) findStack(nameOrID string) *stack {
	if s := f.stacks[nameOrID]; s != nil {
		return s
	}
	for _, s := range f.stacks {
		if s.id == nameOrID {
			return s
		}
	}
	return nil
}

// advance moves an in-progress stack operation one step forward.
func (f *Fake) advance(s *stack) {
	if s.pending == nil {
		return
	}
	if s.countdown > 0 {
		s.countdown--
		return
	}
	cs := s.pending
	s.pending = nil
	create := cs.kind == "CREATE"
	if s.failing != nil {
		fail := s.failing
		s.failing = nil
		failStatus, rollbackIP, final := "UPDATE_FAILED", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"
		if create {
			failStatus, rollbackIP, final = "CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"
		}
		typ := cs.resources[fail.logicalID].Type
		s.addEvent(f.tick(), fail.logicalID, typ, failStatus, fail.reason)
		s.addEvent(f.tick(), s.name, "AWS::CloudFormation::Stack", rollbackIP,
			"The following resource(s) failed to "+strings.ToLower(cs.kind)+": ["+fail.logicalID+"].")
		s.addEvent(f.tick(), s.name, "AWS::CloudFormation::Stack", final, "")
		s.status, s.reason = final, "The following resource(s) failed to "+strings.ToLower(cs.kind)+": ["+fail.logicalID+"]."
		if create {
			s.resources = map[string]resource{}
		}
		cs.execStatus = "EXECUTE_FAILED"
		return
	}
	for _, c := range cs.changes {
		s.addEvent(f.tick(), c.logicalID, c.resourceType, map[string]string{
			"Add": "CREATE_COMPLETE", "Modify": "UPDATE_COMPLETE", "Remove": "DELETE_COMPLETE",
		}[c.action], "")
	}
	s.resources, s.outputs, s.params = cs.resources, cs.outputs, cs.params
	s.status, s.reason = cs.kind+"_COMPLETE", ""
	s.addEvent(f.tick(), s.name, "AWS::CloudFormation::Stack", s.status, "")
	cs.execStatus = "EXECUTE_COMPLETE"
}

func (s *stack) addEvent(at time.Time, logicalID, typ, status, reason string) {
	s.events = append(s.events, event{
		id: fmt.Sprintf("%s-%d", logicalID, len(s.events)+1), logicalID: logicalID,
		resourceType: typ, status: status, reason: reason, at: at,
	})
}

func (f *Fake) describeStacks(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := form.Get("StackName")
	var list []*stack
	if name != "" {
		s := f.findStack(name)
		if s == nil {
			return "", validationError("Stack with id %s does not exist", name)
		}
		list = []*stack{s}
	} else {
		for _, k := range slices.Sorted(maps.Keys(f.stacks)) {
			list = append(list, f.stacks[k])
		}
	}
	var b strings.Builder
	b.WriteString("<Stacks>")
	for _, s := range list {
		f.advance(s)
		fmt.Fprintf(&b, "<member><StackName>%s</StackName><StackId>%s</StackId><StackStatus>%s</StackStatus><CreationTime>2026-01-01T12:00:00Z</CreationTime>",
			fakeaws.XMLEscape(s.name), fakeaws.XMLEscape(s.id), s.status)
		if s.reason != "" {
			b.WriteString("<StackStatusReason>" + fakeaws.XMLEscape(s.reason) + "</StackStatusReason>")
		}
		if strings.HasSuffix(s.status, "_COMPLETE") && len(s.outputs) > 0 {
			b.WriteString("<Outputs>")
			for _, o := range s.outputs {
				fmt.Fprintf(&b, "<member><OutputKey>%s</OutputKey><OutputValue>fake-%s</OutputValue></member>", o, o)
			}
			b.WriteString("</Outputs>")
		}
		b.WriteString("</member>")
	}
	b.WriteString("</Stacks>")
	return b.String(), nil
}

func (f *Fake) createChangeSet(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name, csName, kind := form.Get("StackName"), form.Get("ChangeSetName"), form.Get("ChangeSetType")
	if kind == "" {
		kind = "UPDATE"
	}
	if name == "" || csName == "" {
		return "", validationError("StackName and ChangeSetName are required")
	}
	_, res, outputs, err := parseTemplate(form.Get("TemplateBody"))
	if err != nil {
		return "", validationError("%v", err)
	}
	caps := fakeaws.QueryList(form, "Capabilities.member")
	hasIAM := false
	for _, r := range res {
		if strings.HasPrefix(r.Type, "AWS::IAM::") {
			hasIAM = true
		}
	}
	if hasIAM && !slices.Contains(caps, "CAPABILITY_NAMED_IAM") && !slices.Contains(caps, "CAPABILITY_IAM") {
		return "", fakeaws.Errorf("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]")
	}
	s := f.stacks[name]
	switch {
	case kind == "CREATE" && s != nil && s.status != "REVIEW_IN_PROGRESS":
		return "", fakeaws.Errorf("AlreadyExistsException", "Stack [%s] already exists and cannot be created again with the changeSet [%s].", name, csName)
	case kind == "UPDATE" && (s == nil || s.status == "REVIEW_IN_PROGRESS"):
		return "", validationError("Stack [%s] does not exist", name)
	case kind == "UPDATE" && s.pending != nil:
		return "", validationError("Stack:%s is in %s state and can not be updated.", s.id, s.status)
	}
	if s == nil {
		f.seq++
		s = &stack{name: name, id: fmt.Sprintf("arn:aws:cloudformation:eu-west-1:111122223333:stack/%s/%d", name, f.seq),
			status: "REVIEW_IN_PROGRESS", resources: map[string]resource{}}
		s.addEvent(f.tick(), name, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS", "User Initiated")
		f.stacks[name] = s
	}
	f.seq++
	cs := &changeSet{
		name: csName, arn: fmt.Sprintf("arn:aws:cloudformation:eu-west-1:111122223333:changeSet/%s/%d", csName, f.seq),
		stackName: name, kind: kind, status: "CREATE_PENDING", execStatus: "UNAVAILABLE",
		countdown: f.Steps, resources: res, outputs: outputs, capabilities: caps,
	}
	params := map[string]string{}
	for i := 1; form.Has(fmt.Sprintf("Parameters.member.%d.ParameterKey", i)); i++ {
		k := form.Get(fmt.Sprintf("Parameters.member.%d.ParameterKey", i))
		if form.Get(fmt.Sprintf("Parameters.member.%d.UsePreviousValue", i)) == "true" {
			prev, ok := s.params[k]
			if !ok {
				return "", validationError("Invalid input for parameter key %s. Cannot specify usePreviousValue as true for a parameter key not in the previous template", k)
			}
			params[k] = prev
			continue
		}
		params[k] = form.Get(fmt.Sprintf("Parameters.member.%d.ParameterValue", i))
	}
	cs.params = params
	var changedParams []string
	for k, v := range params {
		if old, ok := s.params[k]; !ok || old != v {
			changedParams = append(changedParams, k)
		}
	}
	for k := range s.params {
		if _, ok := params[k]; !ok {
			changedParams = append(changedParams, k)
		}
	}
	cs.changes = f.diff(s.resources, res, changedParams)
	switch {
	case f.failCS != "":
		cs.failReason, f.failCS = f.failCS, ""
	case len(cs.changes) == 0:
		cs.failReason = NoChangesReason
	}
	f.changeSets[cs.arn] = cs
	return fmt.Sprintf("<Id>%s</Id><StackId>%s</StackId>", cs.arn, s.id), nil
}

// diff compares two resource sets; a resource whose definition refers to a changed
// parameter is modified too.
func (f *Fake) diff(old, updated map[string]resource, changedParams []string) []change {
	var out []change
	for _, id := range slices.Sorted(maps.Keys(updated)) {
		n := updated[id]
		o, ok := old[id]
		switch {
		case !ok:
			out = append(out, change{action: "Add", logicalID: id, resourceType: n.Type})
		case o.Def != n.Def || refersTo(n.Def, changedParams):
			repl := f.replacement[id]
			if repl == "" {
				repl = "False"
			}
			out = append(out, change{action: "Modify", logicalID: id, physicalID: "phys-" + id,
				resourceType: n.Type, replacement: repl, scope: []string{"Properties"}})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(old)) {
		if _, ok := updated[id]; !ok {
			out = append(out, change{action: "Remove", logicalID: id, physicalID: "phys-" + id, resourceType: old[id].Type})
		}
	}
	return out
}

// page reads a list request's NextToken and returns the bounds of the page of n items to
// answer: PageSize items at most (100 when it is unset).
func (f *Fake) page(form url.Values, n int) (start, end int) {
	size := f.PageSize
	if size <= 0 {
		size = 100
	}
	if tok := form.Get("NextToken"); tok != "" {
		start, _ = strconv.Atoi(tok)
	}
	return start, min(start+size, n)
}

func (f *Fake) lookupChangeSet(form url.Values) (*changeSet, error) {
	id := form.Get("ChangeSetName")
	if cs := f.changeSets[id]; cs != nil {
		return cs, nil
	}
	for _, cs := range f.changeSets {
		if cs.name == id && cs.stackName == form.Get("StackName") {
			return cs, nil
		}
	}
	return nil, fakeaws.Errorf("ChangeSetNotFound", "ChangeSet [%s] does not exist", id)
}

func (f *Fake) describeChangeSet(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cs, err := f.lookupChangeSet(form)
	if err != nil {
		return "", err
	}
	if cs.status == "CREATE_PENDING" || cs.status == "CREATE_IN_PROGRESS" {
		if cs.countdown > 0 {
			cs.countdown--
			cs.status = "CREATE_IN_PROGRESS"
		} else if cs.failReason != "" {
			cs.status, cs.reason = "FAILED", cs.failReason
		} else {
			cs.status, cs.execStatus = "CREATE_COMPLETE", "AVAILABLE"
		}
	}
	start, end := f.page(form, len(cs.changes))
	var b strings.Builder
	fmt.Fprintf(&b, "<ChangeSetName>%s</ChangeSetName><ChangeSetId>%s</ChangeSetId><StackName>%s</StackName><StackId>%s</StackId><Status>%s</Status><ExecutionStatus>%s</ExecutionStatus>",
		cs.name, cs.arn, cs.stackName, f.stacks[cs.stackName].id, cs.status, cs.execStatus)
	if cs.reason != "" {
		b.WriteString("<StatusReason>" + fakeaws.XMLEscape(cs.reason) + "</StatusReason>")
	}
	if cs.status == "CREATE_COMPLETE" {
		b.WriteString("<Changes>")
		for _, c := range cs.changes[start:end] {
			b.WriteString("<member><Type>Resource</Type><ResourceChange>")
			fmt.Fprintf(&b, "<Action>%s</Action><LogicalResourceId>%s</LogicalResourceId><ResourceType>%s</ResourceType>", c.action, c.logicalID, c.resourceType)
			if c.physicalID != "" {
				fmt.Fprintf(&b, "<PhysicalResourceId>%s</PhysicalResourceId>", c.physicalID)
			}
			if c.replacement != "" {
				fmt.Fprintf(&b, "<Replacement>%s</Replacement>", c.replacement)
			}
			if len(c.scope) > 0 {
				b.WriteString("<Scope>")
				for _, sc := range c.scope {
					b.WriteString("<member>" + sc + "</member>")
				}
				b.WriteString("</Scope>")
			}
			b.WriteString("</ResourceChange></member>")
		}
		b.WriteString("</Changes>")
		if end < len(cs.changes) {
			fmt.Fprintf(&b, "<NextToken>%d</NextToken>", end)
		}
	}
	return b.String(), nil
}

func (f *Fake) deleteChangeSet(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cs, err := f.lookupChangeSet(form)
	if err != nil {
		return "", err
	}
	if cs.execStatus == "EXECUTE_IN_PROGRESS" {
		return "", fakeaws.Errorf("InvalidChangeSetStatus", "ChangeSet [%s] is being executed", cs.arn)
	}
	delete(f.changeSets, cs.arn)
	return "", nil
}

func (f *Fake) executeChangeSet(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cs, err := f.lookupChangeSet(form)
	if err != nil {
		return "", err
	}
	if cs.status != "CREATE_COMPLETE" || cs.execStatus != "AVAILABLE" {
		return "", fakeaws.Errorf("InvalidChangeSetStatus", "ChangeSet [%s] cannot be executed in its current status of [%s]", cs.arn, cs.status)
	}
	s := f.stacks[cs.stackName]
	f.Executions++
	cs.execStatus = "EXECUTE_IN_PROGRESS"
	s.pending, s.countdown = cs, f.Steps
	s.failing, f.failExec = f.failExec, nil
	s.status = cs.kind + "_IN_PROGRESS"
	s.addEvent(f.tick(), s.name, "AWS::CloudFormation::Stack", s.status, "User Initiated")
	// Executed change sets disappear from the list, as in CloudFormation.
	delete(f.changeSets, cs.arn)
	return "", nil
}

func (f *Fake) describeStackEvents(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.findStack(form.Get("StackName"))
	if s == nil {
		return "", validationError("Stack [%s] does not exist", form.Get("StackName"))
	}
	// Newest first.
	n := len(s.events)
	start, end := f.page(form, n)
	var b strings.Builder
	b.WriteString("<StackEvents>")
	for i := start; i < end; i++ {
		e := s.events[n-1-i]
		fmt.Fprintf(&b, "<member><EventId>%s</EventId><StackId>%s</StackId><StackName>%s</StackName><LogicalResourceId>%s</LogicalResourceId><ResourceType>%s</ResourceType><ResourceStatus>%s</ResourceStatus><Timestamp>%s</Timestamp>",
			e.id, s.id, s.name, e.logicalID, e.resourceType, e.status, e.at.Format(time.RFC3339))
		if e.reason != "" {
			b.WriteString("<ResourceStatusReason>" + fakeaws.XMLEscape(e.reason) + "</ResourceStatusReason>")
		}
		b.WriteString("</member>")
	}
	b.WriteString("</StackEvents>")
	if end < n {
		fmt.Fprintf(&b, "<NextToken>%d</NextToken>", end)
	}
	return b.String(), nil
}

func refersTo(def string, params []string) bool {
	for _, p := range params {
		if strings.Contains(def, "!Ref "+p) || strings.Contains(def, "${"+p+"}") || strings.Contains(def, "Ref: "+p) {
			return true
		}
	}
	return false
}

func (f *Fake) updateTerminationProtection(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.findStack(form.Get("StackName"))
	if s == nil {
		return "", validationError("Stack [%s] does not exist", form.Get("StackName"))
	}
	s.protected = form.Get("EnableTerminationProtection") == "true"
	return "<StackId>" + s.id + "</StackId>", nil
}
