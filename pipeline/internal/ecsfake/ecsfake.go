// Package ecsfake is a stateful Amazon ECS fake for wire-level tests: it registers the ECS
// JSON 1.1 operations the deploy engine uses on a fakeaws.Server and plays scripted
// rollouts (healthy, failing tasks with a circuit-breaker rollback, never finishing) on a
// clock the test controls, phase by phase (tasks provisioning, pending, running, health
// checks, the old tasks draining behind a load balancer and stopping), with the events,
// stopped tasks, read-after-write lag and concurrent updates of the real service. Its final
// state is exposed for assertions.
package ecsfake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/internal/fakeaws"
)

// Clock tells the fake what time it is.
type Clock interface {
	Now() time.Time
}

// VirtualClock is a clock that only moves when told to. Its Sleep returns at once after
// advancing the time, so a deploy that waits minutes runs in milliseconds.
type VirtualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewVirtualClock starts a virtual clock at start.
func NewVirtualClock(start time.Time) *VirtualClock { return &VirtualClock{now: start} }

// Now is the virtual time.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *VirtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
}

// Sleep advances the clock by d, unless ctx is already done.
func (c *VirtualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// Kind is the way a scripted rollout goes.
type Kind int

const (
	// Healthy: tasks start, become healthy, the old tasks drain, the deployment completes.
	Healthy Kind = iota
	// FailTasks: every task exits shortly after it starts; the circuit breaker (when
	// enabled) marks the deployment FAILED and, with rollback, ECS rolls back.
	FailTasks
	// Hang: tasks stay PENDING forever; the deployment never finishes.
	Hang
)

// Rollout scripts one deployment. Zero durations take the defaults noted.
//
// A healthy rollout goes through ECS's phases: the scheduler launches the new tasks
// (StartAfter), they are PROVISIONING then PENDING and reach RUNNING (RunAfter), pass their
// health checks (HealthyAfter); the scheduler then scales the old deployment in (its
// desiredCount drops to 0; with a load balancer its tasks are deregistered and drain for
// the deregistration delay, DrainAfter), the old tasks stop (StopAfter), and the deployment
// is COMPLETED: steady state.
type Rollout struct {
	Kind Kind
	// StartAfter is the time from the deployment's creation to its tasks' launch (5 s).
	StartAfter time.Duration
	// RunAfter is the time from launch to RUNNING (25 s); tasks are PROVISIONING for the
	// first half of it and PENDING for the second.
	RunAfter time.Duration
	// HealthyAfter is the time from RUNNING to healthy, when the old tasks start draining
	// (0: at once).
	HealthyAfter time.Duration
	// DrainAfter is the time the old tasks drain before they stop, the load balancer's
	// deregistration delay (15 s).
	DrainAfter time.Duration
	// StopAfter is the time the old tasks take to stop after draining, and the deployment to
	// become COMPLETED (0).
	StopAfter time.Duration
	// FailAfter is how long a failing task lives (FailTasks, 15 s).
	FailAfter time.Duration
	// StoppedReason and ExitCode describe a failing task's end
	// ("Essential container in task exited", 1).
	StoppedReason string
	ExitCode      int32
}

func (r Rollout) withDefaults() Rollout {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&r.StartAfter, 5*time.Second)
	def(&r.RunAfter, 25*time.Second)
	def(&r.DrainAfter, 15*time.Second)
	def(&r.FailAfter, 15*time.Second)
	if r.StoppedReason == "" {
		r.StoppedReason = "Essential container in task exited"
	}
	if r.ExitCode == 0 {
		r.ExitCode = 1
	}
	return r
}

// Options configure a fake.
type Options struct {
	// Account and Region appear in ARNs (123456789012, eu-west-1).
	Account, Region string
	// ReadLag is how long after an UpdateService DescribeServices keeps answering with the
	// service as it was before the update (eventual consistency).
	ReadLag time.Duration
}

// TimedCall is one request the fake answered (or throttled), with the fake's time.
type TimedCall struct {
	Operation string
	At        time.Time
}

// Fake is the ECS state machine. Create it with New.
type Fake struct {
	mu        sync.Mutex
	clock     Clock
	opts      Options
	seq       int
	queue     []*scheduled
	clusters  map[string]*cluster
	families  map[string][]*types.TaskDefinition
	tags      map[string][]types.Tag
	next      []Rollout
	throttles [][2]time.Time
	calls     []TimedCall
	delivery  deliveryState // service deployments (servicedeployments.go)
	races     []race
	runs      runState // RunTask's one-off tasks (runtask.go)
}

// race is a deployment another client starts in the same instant as the next UpdateService.
type race struct {
	taskDef string
	rollout Rollout
	after   bool
}

type scheduled struct {
	at  time.Time
	seq int
	fn  func(at time.Time)
}

type cluster struct {
	name, arn string
	services  map[string]*service
	order     []string
	tasks     []*types.Task
}

type service struct {
	cl       *cluster
	name     string
	arn      string
	desired  int32
	cfg      types.DeploymentConfiguration
	deps     []*deployment // newest first
	events   []types.ServiceEvent
	stable   string // task definition at the last steady state
	steady   bool
	steadyAt time.Time
	created  time.Time
	lagUntil time.Time
	lagged   json.RawMessage
}

type deployment struct {
	d          types.Deployment
	rollout    Rollout
	tasks      []*types.Task
	superseded bool
}

// New registers the ECS operations on srv and returns the fake; clock drives its rollouts.
func New(srv *fakeaws.Server, clock Clock, opts Options) *Fake {
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	if opts.Region == "" {
		opts.Region = "eu-west-1"
	}
	f := &Fake{
		clock:    clock,
		opts:     opts,
		clusters: map[string]*cluster{},
		families: map[string][]*types.TaskDefinition{},
		tags:     map[string][]types.Tag{},
	}
	f.register(srv)
	return f
}

// ScriptNext makes the next deployments that UpdateService or ECS's own rollbacks create
// follow these rollouts, in order; after them rollouts are Healthy with the defaults.
func (f *Fake) ScriptNext(r ...Rollout) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next = append(f.next, r...)
}

// ThrottleDescribeServices makes DescribeServices answer ThrottlingException while the
// fake's clock is in [from, to).
func (f *Fake) ThrottleDescribeServices(from, to time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttles = append(f.throttles, [2]time.Time{from, to})
}

// RegisterJSON registers a task definition given as register-task-definition input JSON and
// returns its ARN (test setup).
func (f *Fake) RegisterJSON(doc string) (string, error) {
	var td types.TaskDefinition
	if err := decode([]byte(doc), schemas.TaskDefinition, &td); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out, err := f.registerLocked(td, nil)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.TaskDefinitionArn), nil
}

// ServiceSpec describes a service created already steady.
type ServiceSpec struct {
	Cluster, Name string
	// TaskDefinition is the ARN (or family:revision) it runs.
	TaskDefinition string
	DesiredCount   int32
	// DeploymentConfiguration as the service has it (circuit breaker, percents, alarms).
	DeploymentConfiguration types.DeploymentConfiguration
	// LoadBalancers the service registers its tasks with: old tasks then drain (with
	// events) before they stop.
	LoadBalancers []types.LoadBalancer
}

// CreateService adds a service in steady state: one COMPLETED PRIMARY deployment with all
// its tasks running.
func (f *Fake) CreateService(spec ServiceSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now()
	td := f.resolveLocked(spec.TaskDefinition)
	if td == nil {
		return fmt.Errorf("ecsfake: task definition %q not registered", spec.TaskDefinition)
	}
	cl := f.clusterLocked(spec.Cluster)
	s := &service{
		cl: cl, name: spec.Name, desired: spec.DesiredCount, cfg: spec.DeploymentConfiguration, created: now,
		arn: fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", f.opts.Region, f.opts.Account, cl.name, spec.Name),
	}
	cl.services[spec.Name] = s
	if len(spec.LoadBalancers) > 0 {
		f.deliveryLocked().lbs[s] = append([]types.LoadBalancer(nil), spec.LoadBalancers...)
	}
	cl.order = append(cl.order, spec.Name)
	d := f.newDeployment(s, aws.ToString(td.TaskDefinitionArn), Rollout{}.withDefaults(), now)
	d.d.RolloutState = types.DeploymentRolloutStateCompleted
	d.d.RolloutStateReason = aws.String(fmt.Sprintf("ECS deployment %s completed.", aws.ToString(d.d.Id)))
	s.deps = []*deployment{d}
	f.trackDeployment(s, d, now)
	tasks := f.newTasks(s, d, int(spec.DesiredCount), now)
	for _, t := range tasks {
		t.LastStatus = aws.String("RUNNING")
		t.StartedAt = aws.Time(now)
		t.HealthStatus = types.HealthStatusHealthy
	}
	d.d.RunningCount = spec.DesiredCount
	s.stable = aws.ToString(td.TaskDefinitionArn)
	s.steady, s.steadyAt = true, now
	f.event(s, now, "(service %s) has reached a steady state.", s.name)
	return nil
}

// StartDeployment starts a deployment of taskDefinition on a service as if someone else had
// called UpdateService (no read lag), following r.
func (f *Fake) StartDeployment(clusterName, serviceName, taskDefinition string, r Rollout) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now()
	f.advanceLocked(now)
	s := f.serviceLocked(clusterName, serviceName)
	td := f.resolveLocked(taskDefinition)
	if s == nil || td == nil {
		return fmt.Errorf("ecsfake: service %s/%s or task definition %s not found", clusterName, serviceName, taskDefinition)
	}
	f.startDeployment(s, aws.ToString(td.TaskDefinitionArn), r, now)
	return nil
}

// RaceNextUpdate makes another client deploy taskDefinition (following r) in the same
// instant as the next UpdateService: just before it (after false), so that both passed
// their busy checks, or just after it (after true).
func (f *Fake) RaceNextUpdate(taskDefinition string, r Rollout, after bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.races = append(f.races, race{taskDef: taskDefinition, rollout: r, after: after})
}

// Service returns a copy of the service's current (not lagged) state.
func (f *Fake) Service(clusterName, serviceName string) (types.Service, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceLocked(f.clock.Now())
	s := f.serviceLocked(clusterName, serviceName)
	if s == nil {
		return types.Service{}, false
	}
	raw, err := encode(f.view(s), schemas.Service)
	if err != nil {
		return types.Service{}, false
	}
	var out types.Service
	if err := decode(raw, schemas.Service, &out); err != nil {
		return types.Service{}, false
	}
	return out, true
}

// PrimaryTaskDefinition is the task definition ARN of the service's PRIMARY deployment.
func (f *Fake) PrimaryTaskDefinition(clusterName, serviceName string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceLocked(f.clock.Now())
	s := f.serviceLocked(clusterName, serviceName)
	if s == nil || len(s.deps) == 0 {
		return ""
	}
	return aws.ToString(s.deps[0].d.TaskDefinition)
}

// Revisions lists the ARNs registered in a family, oldest first.
func (f *Fake) Revisions(family string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, td := range f.families[family] {
		out = append(out, aws.ToString(td.TaskDefinitionArn))
	}
	return out
}

// TaskDefinition returns a registered task definition by ARN or family:revision.
func (f *Fake) TaskDefinition(ref string) (types.TaskDefinition, []types.Tag, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	td := f.resolveLocked(ref)
	if td == nil {
		return types.TaskDefinition{}, nil, false
	}
	return *td, append([]types.Tag(nil), f.tags[aws.ToString(td.TaskDefinitionArn)]...), true
}

// SteadyAt is when the service last reached a steady state, if it is steady now.
func (f *Fake) SteadyAt(clusterName, serviceName string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceLocked(f.clock.Now())
	s := f.serviceLocked(clusterName, serviceName)
	if s == nil || !s.steady {
		return time.Time{}, false
	}
	return s.steadyAt, true
}

// Calls lists the requests the fake received with its clock's time, in order.
func (f *Fake) Calls() []TimedCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TimedCall(nil), f.calls...)
}

// ---- simulation ----

func (f *Fake) at(t time.Time, fn func(at time.Time)) {
	f.seq++
	e := &scheduled{at: t, seq: f.seq, fn: fn}
	i := sort.Search(len(f.queue), func(i int) bool {
		q := f.queue[i]
		return q.at.After(t) || (q.at.Equal(t) && q.seq > e.seq)
	})
	f.queue = append(f.queue, nil)
	copy(f.queue[i+1:], f.queue[i:])
	f.queue[i] = e
}

// advanceLocked runs every scripted step due by now, in time order.
func (f *Fake) advanceLocked(now time.Time) {
	for len(f.queue) > 0 && !f.queue[0].at.After(now) {
		e := f.queue[0]
		f.queue = f.queue[1:]
		e.fn(e.at)
	}
}

func (f *Fake) id(n int) string {
	f.seq++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d-%d", n, f.seq)))
	return hex.EncodeToString(sum[:])[:n]
}

func (f *Fake) event(s *service, at time.Time, format string, args ...any) {
	ev := types.ServiceEvent{CreatedAt: aws.Time(at), Id: aws.String(f.id(8) + "-" + f.id(4) + "-" + f.id(4) + "-" + f.id(4) + "-" + f.id(12)), Message: aws.String(fmt.Sprintf(format, args...))}
	s.events = append([]types.ServiceEvent{ev}, s.events...)
	if len(s.events) > 100 {
		s.events = s.events[:100]
	}
}

func (f *Fake) newDeployment(s *service, taskDef string, r Rollout, at time.Time) *deployment {
	f.seq++
	id := fmt.Sprintf("ecs-svc/%019d", 4700000000000000000+int64(f.seq)*7919)
	return &deployment{rollout: r, d: types.Deployment{
		Id: aws.String(id), Status: aws.String("PRIMARY"), TaskDefinition: aws.String(taskDef),
		DesiredCount: s.desired, CreatedAt: aws.Time(at), UpdatedAt: aws.Time(at),
		LaunchType: types.LaunchTypeFargate, PlatformVersion: aws.String("1.4.0"), PlatformFamily: aws.String("Linux"),
		RolloutState:       types.DeploymentRolloutStateInProgress,
		RolloutStateReason: aws.String(fmt.Sprintf("ECS deployment %s in progress.", id)),
	}}
}

// startDeployment makes taskDef the PRIMARY deployment of s, following r.
func (f *Fake) startDeployment(s *service, taskDef string, r Rollout, at time.Time) *deployment {
	r = r.withDefaults()
	for _, old := range s.deps {
		old.d.Status = aws.String("ACTIVE")
		old.d.UpdatedAt = aws.Time(at)
		old.superseded = true
	}
	d := f.newDeployment(s, taskDef, r, at)
	s.deps = append([]*deployment{d}, s.deps...)
	s.steady = false
	f.trackDeployment(s, d, at)
	f.at(at.Add(r.StartAfter), func(t time.Time) { f.launch(s, d, int(s.desired), t) })
	return d
}

func (f *Fake) newTasks(s *service, d *deployment, n int, at time.Time) []*types.Task {
	var out []*types.Task
	for i := 0; i < n; i++ {
		id := f.id(32)
		tdArn := aws.ToString(d.d.TaskDefinition)
		td := f.resolveLocked(tdArn)
		var containers []types.Container
		if td != nil {
			for _, c := range td.ContainerDefinitions {
				containers = append(containers, types.Container{
					Name: c.Name, Image: c.Image, ImageDigest: aws.String(resolvedDigest(aws.ToString(c.Image))), LastStatus: aws.String("PENDING"),
					TaskArn:      aws.String(fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%s", f.opts.Region, f.opts.Account, s.cl.name, id)),
					ContainerArn: aws.String(fmt.Sprintf("arn:aws:ecs:%s:%s:container/%s/%s/%s", f.opts.Region, f.opts.Account, s.cl.name, id, f.id(36))),
				})
			}
		}
		t := &types.Task{
			TaskArn:           aws.String(fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%s", f.opts.Region, f.opts.Account, s.cl.name, id)),
			ClusterArn:        aws.String(s.cl.arn),
			TaskDefinitionArn: aws.String(tdArn),
			Group:             aws.String("service:" + s.name),
			StartedBy:         d.d.Id,
			LastStatus:        aws.String("PROVISIONING"),
			DesiredStatus:     aws.String("RUNNING"),
			LaunchType:        types.LaunchTypeFargate,
			CreatedAt:         aws.Time(at),
			Containers:        containers,
		}
		s.cl.tasks = append(s.cl.tasks, t)
		d.tasks = append(d.tasks, t)
		out = append(out, t)
	}
	return out
}

// resolvedDigest is the digest ECS reports for a container's image: the one in the
// reference, or (for a tag) a stand-in derived from the reference.
func resolvedDigest(image string) string {
	if _, d, ok := strings.Cut(image, "@"); ok {
		return d
	}
	sum := sha256.Sum256([]byte(image))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ResolvedDigest is the digest the fake's tasks report for image (see resolvedDigest).
func ResolvedDigest(image string) string { return resolvedDigest(image) }

func taskIDs(ts []*types.Task) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteString(" ")
		}
		arn := aws.ToString(t.TaskArn)
		fmt.Fprintf(&b, "(task %s)", arn[strings.LastIndex(arn, "/")+1:])
	}
	return b.String()
}

func (f *Fake) launch(s *service, d *deployment, n int, at time.Time) {
	if d.superseded || n <= 0 {
		return
	}
	tasks := f.newTasks(s, d, n, at)
	d.d.PendingCount += int32(n)
	d.d.UpdatedAt = aws.Time(at)
	f.event(s, at, "(service %s) has started %d tasks: %s.", s.name, n, taskIDs(tasks))
	r := d.rollout
	switch r.Kind {
	case Healthy:
		f.at(at.Add(r.RunAfter/2), func(time.Time) {
			for _, t := range tasks {
				if aws.ToString(t.LastStatus) == "PROVISIONING" {
					t.LastStatus = aws.String("PENDING")
				}
			}
		})
		f.at(at.Add(r.RunAfter), func(t time.Time) { f.run(s, d, tasks, t) })
	case FailTasks:
		f.at(at.Add(r.FailAfter), func(t time.Time) { f.fail(s, d, tasks, t) })
	case Hang:
		for _, t := range tasks {
			t.LastStatus = aws.String("PENDING")
		}
	}
}

func (f *Fake) run(s *service, d *deployment, tasks []*types.Task, at time.Time) {
	if d.superseded {
		return
	}
	for _, t := range tasks {
		t.LastStatus = aws.String("RUNNING")
		t.StartedAt = aws.Time(at)
		t.HealthStatus = types.HealthStatusHealthy
		for i := range t.Containers {
			t.Containers[i].LastStatus = aws.String("RUNNING")
		}
	}
	d.d.PendingCount -= int32(len(tasks))
	d.d.RunningCount += int32(len(tasks))
	d.d.UpdatedAt = aws.Time(at)
	if f.progressiveRun(s, d, at) {
		return
	}
	f.at(at.Add(d.rollout.HealthyAfter), func(t time.Time) { f.drain(s, d, t) })
}

// drain scales the old deployments in once d's tasks are healthy: their desired count drops
// to 0 and their tasks drain (deregistration delay) and stop; then d completes.
func (f *Fake) drain(s *service, d *deployment, at time.Time) {
	if d.superseded || len(s.deps) == 0 || s.deps[0] != d {
		return
	}
	lbs := f.deliveryLocked().lbs[s]
	var draining []*types.Task
	for _, old := range s.deps[1:] {
		old.d.DesiredCount = 0
		old.d.UpdatedAt = aws.Time(at)
		for _, t := range old.tasks {
			if aws.ToString(t.LastStatus) != "STOPPED" {
				t.DesiredStatus = aws.String("STOPPED")
				if len(lbs) > 0 {
					t.LastStatus = aws.String("DEACTIVATING")
				}
				draining = append(draining, t)
			}
		}
	}
	if len(draining) > 0 && len(lbs) > 0 {
		f.event(s, at, "(service %s) has begun draining connections on %d tasks.", s.name, len(draining))
		f.event(s, at, "(service %s) deregistered %d targets in (target-group %s)", s.name, len(draining), aws.ToString(lbs[0].TargetGroupArn))
	}
	f.at(at.Add(d.rollout.DrainAfter+d.rollout.StopAfter), func(t time.Time) { f.complete(s, d, t) })
}

func (f *Fake) stopTasks(ts []*types.Task, at time.Time, reason string, code types.TaskStopCode, exit *int32) {
	for _, t := range ts {
		if aws.ToString(t.LastStatus) == "STOPPED" {
			continue
		}
		t.LastStatus = aws.String("STOPPED")
		t.DesiredStatus = aws.String("STOPPED")
		t.StoppedReason = aws.String(reason)
		t.StopCode = code
		t.StoppingAt = aws.Time(at)
		t.StoppedAt = aws.Time(at)
		for i := range t.Containers {
			t.Containers[i].LastStatus = aws.String("STOPPED")
			t.Containers[i].ExitCode = exit
			if exit != nil && *exit != 0 {
				t.Containers[i].Reason = aws.String(fmt.Sprintf("exit status %d", *exit))
			}
		}
	}
}

func (f *Fake) complete(s *service, d *deployment, at time.Time) {
	if d.superseded || len(s.deps) == 0 || s.deps[0] != d {
		return
	}
	var stopped []*types.Task
	for _, old := range s.deps[1:] {
		for _, t := range old.tasks {
			if aws.ToString(t.LastStatus) != "STOPPED" {
				stopped = append(stopped, t)
			}
		}
	}
	f.stopTasks(stopped, at, fmt.Sprintf("Scaling activity initiated by (deployment %s)", aws.ToString(d.d.Id)), types.TaskStopCodeServiceSchedulerInitiated, aws.Int32(0))
	if len(stopped) > 0 {
		f.event(s, at, "(service %s) has stopped %d running tasks: %s.", s.name, len(stopped), taskIDs(stopped))
	}
	s.deps = []*deployment{d}
	d.d.RolloutState = types.DeploymentRolloutStateCompleted
	d.d.RolloutStateReason = aws.String(fmt.Sprintf("ECS deployment %s completed.", aws.ToString(d.d.Id)))
	d.d.UpdatedAt = aws.Time(at)
	f.event(s, at, "(service %s) deployment %s deployment completed.", s.name, aws.ToString(d.d.Id))
	f.event(s, at, "(service %s) has reached a steady state.", s.name)
	s.stable = aws.ToString(d.d.TaskDefinition)
	s.steady, s.steadyAt = true, at
}

// failureThreshold is the circuit breaker's failed-task count: half the desired count,
// at least 3 and at most 200.
func failureThreshold(desired int32) int32 {
	t := (desired + 1) / 2
	if t < 3 {
		t = 3
	}
	if t > 200 {
		t = 200
	}
	return t
}

func (f *Fake) fail(s *service, d *deployment, tasks []*types.Task, at time.Time) {
	r := d.rollout
	f.stopTasks(tasks, at, r.StoppedReason, types.TaskStopCodeEssentialContainerExited, aws.Int32(r.ExitCode))
	d.d.PendingCount -= int32(len(tasks))
	d.d.FailedTasks += int32(len(tasks))
	d.d.UpdatedAt = aws.Time(at)
	f.event(s, at, "(service %s) has stopped %d running tasks: %s.", s.name, len(tasks), taskIDs(tasks))
	if d.superseded {
		return
	}
	cb := s.cfg.DeploymentCircuitBreaker
	if cb != nil && cb.Enable && d.d.FailedTasks >= failureThreshold(d.d.DesiredCount) {
		d.d.RolloutState = types.DeploymentRolloutStateFailed
		d.d.RolloutStateReason = aws.String("ECS deployment circuit breaker: tasks failed to start.")
		f.event(s, at, "(service %s) deployment %s deployment failed: tasks failed to start.", s.name, aws.ToString(d.d.Id))
		if cb.Rollback && s.stable != "" {
			rb := f.startDeployment(s, s.stable, f.nextRollout(), at)
			f.event(s, at, "(service %s) rolling back to deployment %s.", s.name, aws.ToString(rb.d.Id))
		}
		return
	}
	f.at(at.Add(r.StartAfter), func(t time.Time) { f.launch(s, d, len(tasks), t) })
}

// nextRollout takes the next scripted rollout (Healthy with the defaults when none is).
func (f *Fake) nextRollout() Rollout {
	r := Rollout{}
	if len(f.next) > 0 {
		r, f.next = f.next[0], f.next[1:]
	}
	return r
}

// view is the service as DescribeServices shows it now.
func (f *Fake) view(s *service) *types.Service {
	out := &types.Service{
		ServiceArn: aws.String(s.arn), ServiceName: aws.String(s.name), ClusterArn: aws.String(s.cl.arn),
		Status: aws.String("ACTIVE"), DesiredCount: s.desired, LaunchType: types.LaunchTypeFargate,
		SchedulingStrategy: types.SchedulingStrategyReplica, PlatformVersion: aws.String("LATEST"), PlatformFamily: aws.String("Linux"),
		CreatedAt: aws.Time(s.created), DeploymentController: &types.DeploymentController{Type: types.DeploymentControllerTypeEcs},
	}
	cfg := s.cfg
	out.DeploymentConfiguration = &cfg
	for _, d := range s.deps {
		out.Deployments = append(out.Deployments, d.d)
		out.RunningCount += d.d.RunningCount
		out.PendingCount += d.d.PendingCount
	}
	if len(s.deps) > 0 {
		out.TaskDefinition = s.deps[0].d.TaskDefinition
	}
	out.Events = append([]types.ServiceEvent(nil), s.events...)
	f.deliveryView(s, out)
	f.runView(s, out)
	return out
}

// ---- lookups (callers hold f.mu) ----

// arnName is the resource name at the end of an ARN ("arn:…/name"), or ref itself.
func arnName(ref string) string {
	if i := strings.LastIndex(ref, "/"); i >= 0 && strings.HasPrefix(ref, "arn:") {
		return ref[i+1:]
	}
	return ref
}

// clusterKey is the name of the cluster a request refers to by name or ARN ("default" when
// it names none).
func clusterKey(ref string) string {
	if ref == "" {
		return "default"
	}
	return arnName(ref)
}

func (f *Fake) clusterLocked(ref string) *cluster {
	name := clusterKey(ref)
	cl := f.clusters[name]
	if cl == nil {
		cl = &cluster{name: name, arn: fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", f.opts.Region, f.opts.Account, name), services: map[string]*service{}}
		f.clusters[name] = cl
	}
	return cl
}

func (f *Fake) findCluster(ref string) *cluster { return f.clusters[clusterKey(ref)] }

func (f *Fake) serviceLocked(clusterName, name string) *service {
	cl := f.findCluster(clusterName)
	if cl == nil {
		return nil
	}
	return cl.services[arnName(name)]
}

// resolveLocked finds a task definition by ARN, family:revision or family (latest ACTIVE).
func (f *Fake) resolveLocked(ref string) *types.TaskDefinition {
	fam, rev, hasRev := strings.Cut(arnName(ref), ":")
	list := f.families[fam]
	if !hasRev {
		for i := len(list) - 1; i >= 0; i-- {
			if list[i].Status == types.TaskDefinitionStatusActive {
				return list[i]
			}
		}
		return nil
	}
	for _, td := range list {
		if fmt.Sprint(td.Revision) == rev {
			return td
		}
	}
	return nil
}

func (f *Fake) registerLocked(td types.TaskDefinition, tags []types.Tag) (*types.TaskDefinition, error) {
	fam := aws.ToString(td.Family)
	if fam == "" {
		return nil, fakeaws.Errorf("ClientException", "Family is required.")
	}
	if len(td.ContainerDefinitions) == 0 {
		return nil, fakeaws.Errorf("ClientException", "Container definitions are required.")
	}
	for _, c := range td.ContainerDefinitions {
		if aws.ToString(c.Name) == "" || aws.ToString(c.Image) == "" {
			return nil, fakeaws.Errorf("ClientException", "Container.name and Container.image should not be null or empty.")
		}
	}
	rev := int32(len(f.families[fam]) + 1)
	arn := fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%d", f.opts.Region, f.opts.Account, fam, rev)
	td.TaskDefinitionArn = aws.String(arn)
	td.Revision = rev
	td.Status = types.TaskDefinitionStatusActive
	td.RegisteredAt = aws.Time(f.clock.Now())
	td.RegisteredBy = aws.String(fmt.Sprintf("arn:aws:iam::%s:user/deployer", f.opts.Account))
	td.Compatibilities = []types.Compatibility{types.CompatibilityEc2, types.CompatibilityFargate}
	f.families[fam] = append(f.families[fam], &td)
	if len(tags) > 0 {
		f.tags[arn] = append([]types.Tag(nil), tags...)
	}
	return &td, nil
}
