package policy

import (
	"sort"
	"strings"
)

// Target is the kind of resource a rule evaluates.
type Target string

// Rule targets.
const (
	TargetTaskDefinition Target = "task-definition"
	TargetService        Target = "service"
	TargetCluster        Target = "cluster"
	TargetRepository     Target = "ecr-repository"
	TargetDockerfile     Target = "dockerfile"
	TargetIAMPolicy      Target = "iam-policy"
	TargetTrustPolicy    Target = "iam-trust-policy"
	TargetAudit          Target = "audit"
	// TargetCloudFormation rules evaluate a landing-zone CloudFormation template for one
	// environment's parameters (pipeline/infra.CheckTemplate).
	TargetCloudFormation Target = "cloudformation"
	// TargetIaCScan is a failed misconfiguration from Trivy's scan of the templates
	// (pipeline/infra.IaCFindings).
	TargetIaCScan Target = "iac-scan"
	// TargetAccount rules evaluate the account's detective controls (pipeline/detectors).
	TargetAccount Target = "account"
)

// Packages that evaluate rules outside this package (Rule.CheckedIn). Their rules have no
// check function here; the package named builds the findings from the rule's metadata
// (LookupRule) and holds the rules' failing and passing fixtures.
const (
	CheckedInInfra     = "pipeline/infra"
	CheckedInDetectors = "pipeline/detectors"
)

// Rule is the metadata of one guardrail. Rules are listed by Rules and documented in docs/rules.md.
type Rule struct {
	ID          string
	Title       string
	Severity    Severity
	Controls    []string // AWS Security Hub control IDs or AWS Config rule names; empty when none exists
	Target      Target
	Rationale   string
	Remediation string
	// CheckedIn names the package that evaluates the rule when it is not this one (see
	// CheckedInInfra); empty for the rules policy evaluates itself.
	CheckedIn string
}

// ruleDef is a rule with its check; the check func matching Target is set (iam for
// permissions policies, trust for trust policies; a rule for both sets both).
type ruleDef struct {
	Rule
	td    func(*taskDefView) []hit
	svc   func(*serviceView) []hit
	cl    func(*clusterView) []hit
	repo  func(*repoView) []hit
	df    func(*dockerfileView) []hit
	iam   func(*iamView) []hit
	trust func(*iamView) []hit
}

// Rule IDs that other packages (policy/live) refer to.
const (
	RuleAuditReadFailed = "FG-AUDIT-001"
)

// registry is the constant table of rules, in ID order within each target.
var registry = []ruleDef{
	// Task definitions.
	{Rule: Rule{ID: "FG-TD-001", Title: "Task definition uses awsvpc networking", Severity: High, Controls: []string{"ecs-awsvpc-networking-enabled", "ECS.17"}, Target: TargetTaskDefinition,
		Rationale:   "awsvpc gives each task its own ENI and security group; host or bridge networking shares the host's network stack.",
		Remediation: `Set "networkMode": "awsvpc".`}, td: checkAwsvpc},
	{Rule: Rule{ID: "FG-TD-002", Title: "Task definition requires Fargate compatibility", Severity: Medium, Target: TargetTaskDefinition,
		Rationale:   "The pipeline deploys to Fargate only; a definition not validated for Fargate can register but fail to place or run on EC2 capacity with weaker isolation.",
		Remediation: `Set "requiresCompatibilities": ["FARGATE"].`}, td: checkFargate},
	{Rule: Rule{ID: "FG-TD-003", Title: "Containers run as a non-root user", Severity: High, Controls: []string{"ECS.20"}, Target: TargetTaskDefinition,
		Rationale:   "A process running as root in the container turns any code execution bug into root in the container and eases escapes.",
		Remediation: `Set "user" on every container to a non-zero UID (e.g. "10001:10001"), and build the image with a matching USER.`}, td: checkNonRoot},
	{Rule: Rule{ID: "FG-TD-004", Title: "Containers have a read-only root filesystem", Severity: High, Controls: []string{"ECS.5"}, Target: TargetTaskDefinition,
		Rationale:   "A writable root filesystem lets an attacker drop tools and persist changes; AWS fails ECS.5 when the flag is false or absent.",
		Remediation: `Set "readonlyRootFilesystem": true on every container; mount a volume or tmpfs for paths that must be writable.`}, td: checkReadOnlyRoot},
	{Rule: Rule{ID: "FG-TD-005", Title: "Containers are not privileged", Severity: Critical, Controls: []string{"ECS.4"}, Target: TargetTaskDefinition,
		Rationale:   "A privileged container has every capability and device of the host.",
		Remediation: `Remove "privileged": true (set it to false).`}, td: checkPrivileged},
	{Rule: Rule{ID: "FG-TD-006", Title: "Containers drop all Linux capabilities", Severity: Medium, Target: TargetTaskDefinition,
		Rationale:   "Dropping ALL capabilities and adding back only what is needed shrinks what a compromised process can do.",
		Remediation: `Set "linuxParameters": {"capabilities": {"drop": ["ALL"]}} on every container.`}, td: checkDropAll},
	{Rule: Rule{ID: "FG-TD-007", Title: "Containers add no dangerous Linux capability", Severity: High, Target: TargetTaskDefinition,
		Rationale:   "Capabilities such as SYS_ADMIN, NET_ADMIN or SYS_PTRACE give near-root powers over the kernel, network or other processes.",
		Remediation: `Remove the capability from "linuxParameters.capabilities.add".`}, td: checkDangerousCaps},
	{Rule: Rule{ID: "FG-TD-008", Title: "Task does not share the host's process namespace", Severity: High, Controls: []string{"ECS.3"}, Target: TargetTaskDefinition,
		Rationale:   "With pidMode host, containers see and can signal every process on the host.",
		Remediation: `Remove "pidMode": "host" (use "task" or leave it unset).`}, td: checkHostPID},
	{Rule: Rule{ID: "FG-TD-009", Title: "Task does not share the host's IPC namespace", Severity: High, Target: TargetTaskDefinition,
		Rationale:   "With ipcMode host, containers can read shared memory of processes on the host.",
		Remediation: `Remove "ipcMode": "host" (use "task" or "none", or leave it unset).`}, td: checkHostIPC},
	{Rule: Rule{ID: "FG-TD-010", Title: "Task sets CPU and memory", Severity: Medium, Target: TargetTaskDefinition,
		Rationale:   "Explicit task-level CPU and memory bound the cost and blast radius of a runaway task; Fargate requires them.",
		Remediation: `Set task-level "cpu" and "memory" (e.g. "256" and "512").`}, td: checkTaskSize},
	{Rule: Rule{ID: "FG-TD-011", Title: "Containers set a hard memory limit", Severity: Medium, Controls: []string{"ecs-task-definition-memory-hard-limit"}, Target: TargetTaskDefinition,
		Rationale:   "A container without a hard memory limit can starve the other containers of its task.",
		Remediation: `Set "memory" (MiB) on every container.`}, td: checkContainerMemory},
	{Rule: Rule{ID: "FG-TD-012", Title: "Containers send logs to a log driver", Severity: High, Controls: []string{"ECS.9"}, Target: TargetTaskDefinition,
		Rationale:   "Without a log configuration there is no record to investigate an incident with.",
		Remediation: `Set "logConfiguration": {"logDriver": "awslogs", "options": {...}} on every container.`}, td: checkLogging},
	{Rule: Rule{ID: "FG-TD-013", Title: "No AWS credentials in container environment", Severity: Critical, Controls: []string{"ECS.8"}, Target: TargetTaskDefinition,
		Rationale:   "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and ECS_ENGINE_AUTH_DATA in plain environment variables are readable by anyone who can describe the task definition.",
		Remediation: "Remove the variable; give the task a task role instead of access keys, and pass other secrets through \"secrets\"."}, td: checkECS8Env},
	{Rule: Rule{ID: "FG-TD-014", Title: "No secret-looking values in container environment", Severity: High, Controls: []string{"ECS.8"}, Target: TargetTaskDefinition,
		Rationale:   "Passwords, tokens, API keys, access key IDs and private keys in \"environment\" are stored in plain text in the task definition.",
		Remediation: "Store the value in Secrets Manager or SSM Parameter Store and reference it from \"secrets\": [{\"name\": ..., \"valueFrom\": <ARN>}]."}, td: checkSecretEnv},
	{Rule: Rule{ID: "FG-TD-015", Title: "Secrets come from Secrets Manager or SSM Parameter Store", Severity: High, Target: TargetTaskDefinition,
		Rationale:   "Only a Secrets Manager or SSM reference in secrets[].valueFrom keeps the value out of the task definition and under IAM control.",
		Remediation: "Set valueFrom to a Secrets Manager secret ARN (arn:aws:secretsmanager:…) or an SSM parameter ARN or name."}, td: checkSecretRefs},
	{Rule: Rule{ID: "FG-TD-016", Title: "Task role and execution role are separate", Severity: Medium, Target: TargetTaskDefinition,
		Rationale:   "The execution role (image pull, logs, secrets) and the application's task role serve different principals; sharing one gives the application the agent's permissions or vice versa.",
		Remediation: `Set both "taskRoleArn" and "executionRoleArn", to two different roles.`}, td: checkRoles},
	{Rule: Rule{ID: "FG-TD-017", Title: "EFS volumes encrypt data in transit", Severity: Medium, Controls: []string{"ECS.18"}, Target: TargetTaskDefinition,
		Rationale:   "Without transit encryption, NFS traffic between the task and EFS crosses the network in clear text.",
		Remediation: `Set "efsVolumeConfiguration.transitEncryption": "ENABLED" on every EFS volume.`}, td: checkEFSTransit},
	{Rule: Rule{ID: "FG-TD-018", Title: "Essential containers have a health check", Severity: Medium, Target: TargetTaskDefinition,
		Rationale:   "Without a container health check ECS only notices a crashed process, not a hung one, and the circuit breaker has less to go on.",
		Remediation: `Set "healthCheck": {"command": ["CMD", "/app", "healthcheck"], ...} on every essential container.`}, td: checkHealthCheck},
	{Rule: Rule{ID: "FG-TD-019", Title: "Task definition has the required tags", Severity: Low, Controls: []string{"ECS.15"}, Target: TargetTaskDefinition,
		Rationale:   "Tags identify the owner, environment and cost centre of a resource for incident response and billing.",
		Remediation: `Add the missing keys to the task definition's "tags".`}, td: checkTaskDefTags},

	// Services.
	{Rule: Rule{ID: "FG-SVC-001", Title: "Service does not assign public IPs", Severity: High, Controls: []string{"ECS.2", "ECS.16"}, Target: TargetService,
		Rationale:   "A task with a public IP is reachable from the internet, bypassing the load balancer and its security group.",
		Remediation: `Set networkConfiguration.awsvpcConfiguration.assignPublicIp to "DISABLED" and use private subnets with a NAT gateway or VPC endpoints.`}, svc: checkPublicIP},
	{Rule: Rule{ID: "FG-SVC-002", Title: "Service runs in private subnets", Severity: High, Target: TargetService,
		Rationale:   "A subnet whose route table sends 0.0.0.0/0 to an internet gateway is public; tasks belong behind the load balancer.",
		Remediation: "Use subnets whose route table (or the VPC's main route table) has no 0.0.0.0/0 route to an igw-."}, svc: checkPrivateSubnets},
	{Rule: Rule{ID: "FG-SVC-003", Title: "Task security groups admit only the load balancer", Severity: High, Target: TargetService,
		Rationale:   "Ingress from CIDR ranges (e.g. 0.0.0.0/0) lets clients reach tasks directly, around the load balancer.",
		Remediation: "Replace CIDR and prefix-list ingress rules on the task security group with one rule whose source is the load balancer's security group."}, svc: checkSecurityGroups},
	{Rule: Rule{ID: "FG-SVC-004", Title: "Deployment circuit breaker with rollback is on", Severity: High, Target: TargetService,
		Rationale:   "Without the circuit breaker a failing deployment keeps replacing tasks; with rollback ECS returns to the last working revision.",
		Remediation: "Set deploymentConfiguration.deploymentCircuitBreaker to {enable: true, rollback: true}."}, svc: checkCircuitBreaker},
	{Rule: Rule{ID: "FG-SVC-005", Title: "Service runs on the latest Fargate platform version", Severity: Medium, Controls: []string{"ECS.10"}, Target: TargetService,
		Rationale:   "Older platform versions miss security patches and features.",
		Remediation: `Set platformVersion to "LATEST" (or "1.4.0").`}, svc: checkPlatformVersion},
	{Rule: Rule{ID: "FG-SVC-006", Title: "ECS Exec is disabled in production", Severity: High, Target: TargetService,
		Rationale:   "ECS Exec opens an interactive shell into production tasks; keep it for pre-production debugging.",
		Remediation: "Set enableExecuteCommand to false for production services."}, svc: checkExecInProd},
	{Rule: Rule{ID: "FG-SVC-007", Title: "Service sits behind a load balancer target group", Severity: Medium, Target: TargetService,
		Rationale:   "A target group health check takes unhealthy tasks out of traffic and feeds the deployment circuit breaker.",
		Remediation: "Attach the service to a target group (loadBalancers[].targetGroupArn, containerName, containerPort)."}, svc: checkLoadBalancer},
	{Rule: Rule{ID: "FG-SVC-008", Title: "Service discovery registration is complete", Severity: Low, Target: TargetService,
		Rationale:   "When service discovery is configured, a missing or partial registration leaves clients resolving stale or no endpoints.",
		Remediation: "Set serviceRegistries[].registryArn to the Cloud Map service ARN."}, svc: checkServiceDiscovery},
	{Rule: Rule{ID: "FG-SVC-009", Title: "Service propagates tags to tasks", Severity: Low, Target: TargetService,
		Rationale:   "Tasks without the service's or task definition's tags escape cost allocation and ownership queries.",
		Remediation: `Set propagateTags to "SERVICE" or "TASK_DEFINITION".`}, svc: checkPropagateTags},
	{Rule: Rule{ID: "FG-SVC-010", Title: "Service has the required tags", Severity: Low, Controls: []string{"ECS.13"}, Target: TargetService,
		Rationale:   "Tags identify the owner, environment and cost centre of a resource.",
		Remediation: "Add the missing tag keys to the service."}, svc: checkServiceTags},
	{Rule: Rule{ID: "FG-SVC-011", Title: "Production rolling deployments are guarded by CloudWatch alarms", Severity: Medium, Target: TargetService,
		Rationale:   "The circuit breaker only sees tasks that fail to start or fail health checks; a release that starts fine but raises the error rate or latency reaches all traffic unless alarms fail the deployment.",
		Remediation: "Set deploymentConfiguration.alarms {alarmNames: [5xx rate, latency alarms], enable: true, rollback: true} (environments file: alarms.names), or use a canary, linear or blue-green strategy with alarms."}, svc: checkProdAlarms},
	{Rule: Rule{ID: "FG-SVC-012", Title: "Deployment alarms roll back", Severity: High, Target: TargetService,
		Rationale:   "With rollback off, a firing alarm stops the deployment where it is: part or all of the traffic stays on the release that set the alarm off.",
		Remediation: "Set deploymentConfiguration.alarms.rollback to true (environments file: alarms.rollback: true)."}, svc: checkAlarmRollback},
	{Rule: Rule{ID: "FG-SVC-013", Title: "Blue/green deployments have a test listener", Severity: Medium, Target: TargetService,
		Rationale:   "Without a test listener rule the green revision cannot be checked before it takes production traffic: blue/green then shifts all traffic at once, untested.",
		Remediation: "Set loadBalancers[].advancedConfiguration.testListenerRule (environments file: loadBalancer.testListenerRule) and probe it (testProbe)."}, svc: checkTestListener},

	// Clusters.
	{Rule: Rule{ID: "FG-CL-001", Title: "Cluster has Container Insights enabled", Severity: Medium, Controls: []string{"ECS.12"}, Target: TargetCluster,
		Rationale:   "Container Insights metrics are what an operator needs to see a failing rollout or resource exhaustion.",
		Remediation: `Set the cluster setting containerInsights to "enabled" or "enhanced".`}, cl: checkContainerInsights},
	{Rule: Rule{ID: "FG-CL-002", Title: "Cluster has the required tags", Severity: Low, Controls: []string{"ECS.14"}, Target: TargetCluster,
		Rationale:   "Tags identify the owner, environment and cost centre of a resource.",
		Remediation: "Add the missing tag keys to the cluster."}, cl: checkClusterTags},

	// ECR repositories.
	{Rule: Rule{ID: "FG-ECR-001", Title: "Repository scans images for vulnerabilities", Severity: High, Controls: []string{"ECR.1"}, Target: TargetRepository,
		Rationale:   "Scanning on push or continuously reports vulnerable images before and after they are deployed.",
		Remediation: "Enable scanOnPush on the repository or a registry scanning rule (SCAN_ON_PUSH or CONTINUOUS_SCAN, or enhanced scanning) that matches it."}, repo: checkScanning},
	{Rule: Rule{ID: "FG-ECR-002", Title: "Repository tags are immutable", Severity: Medium, Controls: []string{"ECR.2"}, Target: TargetRepository,
		Rationale:   "With mutable tags, a pushed tag can be silently replaced by another image.",
		Remediation: `Set imageTagMutability to "IMMUTABLE".`}, repo: checkImmutable},
	{Rule: Rule{ID: "FG-ECR-003", Title: "Repository has a lifecycle policy", Severity: Medium, Controls: []string{"ECR.3"}, Target: TargetRepository,
		Rationale:   "Without a lifecycle policy old, unpatched images accumulate and stay pullable.",
		Remediation: "Attach a lifecycle policy (e.g. keep the newest 50 images)."}, repo: checkLifecycle},
	{Rule: Rule{ID: "FG-ECR-004", Title: "Repository is encrypted with a customer-managed KMS key", Severity: Low, Controls: []string{"ECR.5"}, Target: TargetRepository,
		Rationale:   "A customer-managed key lets you control and audit who can decrypt image layers; AWS-managed encryption is acceptable, so this is a warning.",
		Remediation: "Create the repository with encryptionConfiguration {encryptionType: KMS, kmsKey: <your key ARN>} (encryption cannot be changed after creation)."}, repo: checkKMS},

	// Dockerfiles.
	{Rule: Rule{ID: "FG-DF-001", Title: "Final image stage runs as a non-root USER", Severity: High, Controls: []string{"ECS.20"}, Target: TargetDockerfile,
		Rationale:   "The image's default user is what the container runs as unless the task definition overrides it.",
		Remediation: "Add `USER 10001:10001` (a non-zero UID) to the final stage."}, df: checkDockerUser},
	{Rule: Rule{ID: "FG-DF-002", Title: "Base images are pinned by digest", Severity: Medium, Target: TargetDockerfile,
		Rationale:   "A tag can be moved to another image; a digest names exactly the image that was reviewed and scanned.",
		Remediation: "Write FROM image:tag@sha256:<digest> (or pin the ARG default that FROM uses)."}, df: checkDockerDigest},
	{Rule: Rule{ID: "FG-DF-003", Title: "Dockerfile uses a multi-stage build", Severity: Low, Target: TargetDockerfile,
		Rationale:   "A separate build stage keeps compilers, package managers and build secrets out of the runtime image.",
		Remediation: "Build in one stage and COPY --from=<build> only the artefacts into a minimal final stage."}, df: checkDockerMultiStage},
	{Rule: Rule{ID: "FG-DF-004", Title: "No ADD from remote URLs", Severity: Medium, Target: TargetDockerfile,
		Rationale:   "ADD <url> fetches unverified content at build time.",
		Remediation: "Download with a checksum verification in a build stage (curl + sha256sum -c), or COPY a vendored file."}, df: checkDockerAddURL},
	{Rule: Rule{ID: "FG-DF-005", Title: "No secrets in ENV or ARG", Severity: High, Target: TargetDockerfile,
		Rationale:   "ENV and ARG values are stored in the image configuration and history, readable by anyone who can pull the image.",
		Remediation: "Use BuildKit secret mounts (RUN --mount=type=secret) at build time and ECS secrets at run time."}, df: checkDockerSecrets},
	{Rule: Rule{ID: "FG-DF-006", Title: "No sudo in RUN", Severity: Medium, Target: TargetDockerfile,
		Rationale:   "sudo in an image is a ready-made privilege escalation path and is never needed at build time (RUN already runs as the stage's USER).",
		Remediation: "Run the privileged steps before switching USER, and do not install sudo."}, df: checkDockerSudo},

	// IAM policy documents.
	{Rule: Rule{ID: "FG-IAM-001", Title: "No wildcard actions", Severity: High, Target: TargetIAMPolicy,
		Rationale:   `"*" or "service:*" grants every current and future action of a service.`,
		Remediation: "List the exact actions the role needs."}, iam: checkWildcardActions},
	{Rule: Rule{ID: "FG-IAM-002", Title: "No wildcard resources", Severity: High, Target: TargetIAMPolicy,
		Rationale:   `Resource "*" applies the actions to every resource of the account; only actions that support no resource-level permissions (e.g. ecr:GetAuthorizationToken) may use it.`,
		Remediation: "Scope Resource to the ARNs the role uses (repository, log group, secret, key)."}, iam: checkWildcardResources},
	{Rule: Rule{ID: "FG-IAM-003", Title: "No NotAction or NotResource in Allow statements", Severity: High, Target: TargetIAMPolicy,
		Rationale:   "Allow with NotAction or NotResource grants everything except a list, including actions and resources added later.",
		Remediation: "Rewrite the statement as an Allow of explicit Action and Resource lists."}, iam: checkNotAction},
	{Rule: Rule{ID: "FG-IAM-004", Title: "Execution role is limited to image pull, logs and the task's secrets", Severity: High, Target: TargetIAMPolicy,
		Rationale:   "The execution role is used by the ECS agent; it needs only ECR pull, CloudWatch Logs writes and the secrets the task references.",
		Remediation: "Keep only ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ecr:BatchCheckLayerAvailability, ecr:GetAuthorizationToken, logs:CreateLogStream, logs:PutLogEvents, and secretsmanager:GetSecretValue / ssm:GetParameters / kms:Decrypt on the task's secret and key ARNs; move anything else to the task role."}, iam: checkExecutionRole},
	{Rule: Rule{ID: "FG-IAM-005", Title: "iam:PassRole is conditioned on the service the role is passed to", Severity: High, Target: TargetIAMPolicy,
		Rationale:   "Without an iam:PassedToService condition the principal can hand the role to any service that accepts one (EC2, Lambda, CloudFormation…) and act with the role's permissions there.",
		Remediation: `Add "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}} (or the one service the role is for) to the statement granting iam:PassRole.`}, iam: checkPassRoleCondition},
	{Rule: Rule{ID: "FG-IAM-006", Title: "iam:PassRole names the roles it passes", Severity: High, Target: TargetIAMPolicy,
		Rationale:   `iam:PassRole on "*" (or "role/*") lets the principal pass any role in the account, including administrator roles, to a service it controls.`,
		Remediation: "Set Resource to the ARNs of the roles the principal must pass (e.g. the service's task role and execution role)."}, iam: checkPassRoleResource},

	// IAM trust policies.
	{Rule: Rule{ID: "FG-IAM-007", Title: "GitHub OIDC trust requires the sts.amazonaws.com audience", Severity: High, Target: TargetTrustPolicy,
		Rationale:   "GitHub Actions tokens for AWS carry aud sts.amazonaws.com; without the audience condition, a token minted for another relying party is accepted too.",
		Remediation: `Add "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"} to the statement's Condition.`}, trust: checkGitHubAudience},
	{Rule: Rule{ID: "FG-IAM-008", Title: "GitHub OIDC trust is limited to named repositories", Severity: High, Target: TargetTrustPolicy,
		Rationale:   `The sub claim names the repository (repo:OWNER/REPO:…) a workflow runs in. With no sub condition, or one whose wildcard covers the owner ("*", "repo:*"), a workflow in any GitHub account can assume the role.`,
		Remediation: `Add "StringEquals": {"token.actions.githubusercontent.com:sub": "repo:OWNER/REPO:environment:NAME"}, listing each repository and environment (or branch) that deploys.`}, trust: checkGitHubSubject},
	{Rule: Rule{ID: "FG-IAM-009", Title: "GitHub OIDC trust names the repository, not all of the owner's", Severity: Medium, Target: TargetTrustPolicy,
		Rationale:   `A sub pattern such as "repo:OWNER/*" lets a workflow in every repository of the owner assume the role, including repositories with weaker review rules.`,
		Remediation: `Replace the wildcard with the repository name: "repo:OWNER/REPO:environment:NAME" (StringEquals), one value per repository.`}, trust: checkGitHubSubjectRepository},
	{Rule: Rule{ID: "FG-IAM-010", Title: "Trust policy does not let anyone assume the role", Severity: Critical, Target: TargetTrustPolicy,
		Rationale:   `A trust statement with Principal "*" or {"AWS": "*"} (or an Allow with NotPrincipal) and no condition lets any AWS principal, in any account, assume the role.`,
		Remediation: `Name the principals ({"AWS": "arn:aws:iam::ACCOUNT:role/NAME"}, {"Service": "ecs-tasks.amazonaws.com"}, {"Federated": <provider ARN>}), or add conditions that restrict who may assume it (e.g. aws:PrincipalOrgID).`}, trust: checkTrustEveryone},
	{Rule: Rule{ID: "FG-IAM-011", Title: "Policy uses policy language version 2012-10-17", Severity: Low, Target: TargetIAMPolicy,
		Rationale:   "Without a Version, or with 2008-10-17, IAM applies the old policy language: policy variables such as ${aws:username} are not substituted, so the statements do not mean what they say.",
		Remediation: `Set "Version": "2012-10-17" at the top of the policy document (permissions and trust policies alike).`}, iam: checkPolicyVersion, trust: checkPolicyVersion},

	// CloudFormation templates (evaluated by pipeline/infra.CheckTemplate).
	{Rule: Rule{ID: "FG-CFN-001", Title: "Every template parameter has a value for the check", Severity: Low, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "A parameter with no default and no value in the environment's infra.parameters is checked with a placeholder, so the rules that depend on it judge a value the stack will not have.",
		Remediation: "Give the parameter a value in environments.<env>.infra.parameters (or a Default in the template), or suppress this finding for parameters only known at deploy time (e.g. the image digest)."}},
	{Rule: Rule{ID: "FG-CFN-002", Title: "ECS services in the template assign no public IP", Severity: High, Controls: []string{"ECS.2"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "A task with a public IP is reachable from the internet, around the load balancer; a template without a service has nothing this rule can vouch for.",
		Remediation: "Set NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp: DISABLED on every AWS::ECS::Service, with tasks in private subnets."}},
	{Rule: Rule{ID: "FG-CFN-003", Title: "Task security groups admit only the load balancer, on the container port", Severity: High, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Ingress from address ranges, from other security groups or on other ports lets clients reach tasks around the load balancer and its TLS and header checks.",
		Remediation: "Give the service's security group one ingress rule per container port whose SourceSecurityGroupId is the internet-facing load balancer's security group (GetAtt <LbSg>.GroupId), and no CidrIp/CidrIpv6/SourcePrefixListId rules."}},
	{Rule: Rule{ID: "FG-CFN-004", Title: "Load balancer security group sends only to the tasks", Severity: Medium, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "A security group without SecurityGroupEgress keeps the default allow-all egress, so a compromised load balancer path can reach anything in the VPC.",
		Remediation: "Declare SecurityGroupEgress on the load balancer's security group with DestinationSecurityGroupId set to the service's security group, on the container port only."}},
	{Rule: Rule{ID: "FG-CFN-005", Title: "IAM policies in the template grant least privilege", Severity: High, Controls: []string{"IAM.1", "IAM.21"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Wildcard actions, NotAction/NotResource and Resource \"*\" on actions that support resource-level permissions grant more than the service needs; attached managed policies are not reviewed by this check.",
		Remediation: "List the actions and the resource ARNs each statement needs (Resource \"*\" only for actions without resource-level permissions, such as ecr:GetAuthorizationToken), and use inline policies instead of ManagedPolicyArns."}},
	{Rule: Rule{ID: "FG-CFN-006", Title: "ECS task roles carry a permissions boundary", Severity: Medium, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "A boundary declared in the template caps what the task role can ever be granted, including by later edits outside the template.",
		Remediation: "Set PermissionsBoundary: !Ref <ManagedPolicy> on every role ecs-tasks.amazonaws.com assumes, with an AWS::IAM::ManagedPolicy declared in the template."}},
	{Rule: Rule{ID: "FG-CFN-007", Title: "KMS key policies name their principals", Severity: High, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "A key policy statement for Principal \"*\" (or none) lets any principal use the key; kms:* belongs only to the account root, from which IAM policies delegate.",
		Remediation: "Grant kms:* only to arn:aws:iam::<account>:root and give services (logs, ecr) the specific actions they need, with conditions on the encryption context."}},
	{Rule: Rule{ID: "FG-CFN-008", Title: "Symmetric KMS keys rotate", Severity: Medium, Controls: []string{"KMS.4"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Automatic rotation limits how much data one key version protects.",
		Remediation: "Set EnableKeyRotation: true on every symmetric AWS::KMS::Key."}},
	{Rule: Rule{ID: "FG-CFN-009", Title: "Log groups have a retention period", Severity: Medium, Controls: []string{"cw-loggroup-retention-period-check"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Logs are evidence for incident response; the template must declare where its logs go and how long they are kept.",
		Remediation: "Declare an AWS::Logs::LogGroup for the service with RetentionInDays set (e.g. 90 or 365)."}},
	{Rule: Rule{ID: "FG-CFN-010", Title: "Log groups are encrypted with a customer-managed key", Severity: Medium, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "A key declared in the template puts reads of the logs under a key policy the team controls.",
		Remediation: "Set KmsKeyId: !GetAtt <Key>.Arn on every log group, with an AWS::KMS::Key in the template whose policy admits logs.<region>.amazonaws.com."}},
	{Rule: Rule{ID: "FG-CFN-011", Title: "ECR repositories scan images on push", Severity: High, Controls: []string{"ECR.1"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Scanning on push catches known vulnerabilities in every image the pipeline publishes; a template without a repository leaves the registry settings unchecked.",
		Remediation: "Set ImageScanningConfiguration: {ScanOnPush: true} on the AWS::ECR::Repository (or enable enhanced scanning for the registry)."}},
	{Rule: Rule{ID: "FG-CFN-012", Title: "ECR repositories have immutable tags", Severity: Medium, Controls: []string{"ECR.2"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "A mutable tag can be moved to another image after it was scanned and signed.",
		Remediation: "Set ImageTagMutability: IMMUTABLE."}},
	{Rule: Rule{ID: "FG-CFN-013", Title: "ECR repositories have a lifecycle policy", Severity: Medium, Controls: []string{"ECR.3"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Without a lifecycle policy old, unpatched images accumulate and stay pullable.",
		Remediation: "Set LifecyclePolicy.LifecyclePolicyText to a valid JSON policy (e.g. keep the newest N images)."}},
	{Rule: Rule{ID: "FG-CFN-014", Title: "ECR repositories are encrypted with a customer-managed key", Severity: Medium, Controls: []string{"ECR.5"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "A customer-managed KMS key puts image reads under a key policy the team controls and audits.",
		Remediation: "Set EncryptionConfiguration: {EncryptionType: KMS, KmsKey: !GetAtt <Key>.Arn} with a key declared in the template."}},
	{Rule: Rule{ID: "FG-CFN-015", Title: "Stateful resources survive stack deletion and replacement", Severity: Medium, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Deleting or replacing the stack must not delete images, logs or keys; EmptyOnDelete deletes every image with the repository.",
		Remediation: "Set DeletionPolicy: Retain and UpdateReplacePolicy: Retain on repositories, log groups, keys and other stateful resources, and remove EmptyOnDelete: true."}},
	{Rule: Rule{ID: "FG-CFN-016", Title: "ECS services deploy with the circuit breaker and rollback", Severity: High, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Without the circuit breaker a failing deployment keeps replacing tasks; with rollback ECS returns to the last working revision.",
		Remediation: "Set DeploymentConfiguration.DeploymentCircuitBreaker: {Enable: true, Rollback: true}."}},
	{Rule: Rule{ID: "FG-CFN-017", Title: "ECS services run the latest Fargate platform version", Severity: Medium, Controls: []string{"ECS.10"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Older platform versions miss security fixes in the Fargate runtime.",
		Remediation: "Set PlatformVersion: LATEST."}},
	{Rule: Rule{ID: "FG-CFN-018", Title: "ECS Exec is off in production", Severity: High, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "ECS Exec opens an interactive shell into running production tasks and needs SSM message channel permissions on \"*\".",
		Remediation: "Set EnableExecuteCommand: false for production (e.g. !If [IsProd, false, !Ref EnableExecuteCommand])."}},
	{Rule: Rule{ID: "FG-CFN-019", Title: "Fargate Spot only outside production", Severity: Medium, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Spot tasks can be reclaimed with two minutes' notice: acceptable and cheaper outside production, an availability risk in it.",
		Remediation: "Use a capacity provider strategy with FARGATE_SPOT (weight > 0) outside production and FARGATE only in production."}},
	{Rule: Rule{ID: "FG-CFN-020", Title: "ECS services propagate tags from the service", Severity: Low, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Tasks carry the service's owner and cost tags only when the service propagates them.",
		Remediation: "Set PropagateTags: SERVICE."}},
	{Rule: Rule{ID: "FG-CFN-021", Title: "ECS services register for service discovery", Severity: Low, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Service Connect or Cloud Map lets other services reach this one by name inside the VPC, not through the public load balancer.",
		Remediation: "Set ServiceConnectConfiguration or ServiceRegistries on the service."}},
	{Rule: Rule{ID: "FG-CFN-022", Title: "ECS clusters have Container Insights on", Severity: Medium, Controls: []string{"ECS.12"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Container Insights records the task and container metrics needed to notice and investigate misbehaving tasks.",
		Remediation: "Set ClusterSettings: [{Name: containerInsights, Value: enhanced}] (or enabled) on the AWS::ECS::Cluster."}},
	{Rule: Rule{ID: "FG-CFN-023", Title: "HTTPS listeners use TLS 1.2 or later and a certificate", Severity: High, Controls: []string{"ELB.17"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Older TLS policies allow protocol versions and ciphers with known attacks; a load balancer without an HTTPS listener serves clients in clear text.",
		Remediation: "Serve HTTPS with SslPolicy ELBSecurityPolicy-TLS13-1-2-2021-06 (or another TLS 1.2+ policy) and an ACM certificate; use only HTTP and HTTPS listeners."}},
	{Rule: Rule{ID: "FG-CFN-024", Title: "HTTP listeners redirect to HTTPS", Severity: Medium, Controls: []string{"ELB.1"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "An HTTP listener that forwards serves the application in clear text.",
		Remediation: "Give HTTP listeners one default action: {Type: redirect, RedirectConfig: {Protocol: HTTPS, Port: \"443\", StatusCode: HTTP_301}}."}},
	{Rule: Rule{ID: "FG-CFN-025", Title: "Target groups health-check the service and drain quickly", Severity: Medium, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "The health check must hit the application's health path for the circuit breaker to see failures; awsvpc tasks register by IP; a long deregistration delay slows every deploy and rollback.",
		Remediation: "Set HealthCheckPath to the app's health path, TargetType: ip, and deregistration_delay.timeout_seconds at most 60."}},
	{Rule: Rule{ID: "FG-CFN-026", Title: "Load balancers drop invalid header fields", Severity: Medium, Controls: []string{"ELB.4"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Forwarding malformed headers exposes the application to HTTP request smuggling and desync attacks.",
		Remediation: "Add LoadBalancerAttributes: [{Key: routing.http.drop_invalid_header_fields.enabled, Value: \"true\"}]."}},
	{Rule: Rule{ID: "FG-CFN-027", Title: "Tasks run in private subnets in two or more zones", Severity: High, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Task subnets must not map public IPs or route to an internet gateway; two zones survive a zone failure; the load balancer's subnets need the internet route instead.",
		Remediation: "Put tasks in subnets declared in the template, in at least two zones, whose route tables send 0.0.0.0/0 to a NAT gateway (or nowhere, with VPC endpoints), with MapPublicIpOnLaunch false; put the load balancer in public subnets."}},
	{Rule: Rule{ID: "FG-CFN-028", Title: "VPCs have flow logs for all traffic", Severity: Medium, Controls: []string{"EC2.6"}, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Flow logs record accepted and rejected connections, needed to investigate what a compromised task talked to.",
		Remediation: "Declare an AWS::EC2::FlowLog for each VPC with TrafficType: ALL and a log group declared in the template (or an S3 destination)."}},
	{Rule: Rule{ID: "FG-CFN-029", Title: "VPC endpoints keep AWS traffic private", Severity: Medium, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Interface endpoints for ECR, CloudWatch Logs and Secrets Manager and a gateway endpoint for S3 let private tasks pull images, write logs and read secrets without the internet; without private DNS tasks still resolve the public endpoints.",
		Remediation: "Declare Interface endpoints (PrivateDnsEnabled: true) for ecr.api, ecr.dkr, logs and secretsmanager, and a Gateway endpoint for s3."}},
	{Rule: Rule{ID: "FG-CFN-030", Title: "Taggable resources carry the required tags", Severity: Low, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Tags identify the owner, environment and cost centre of a resource for incident response and billing.",
		Remediation: "Add the missing keys (policy.requiredTags) to the resource's Tags."}},
	{Rule: Rule{ID: "FG-CFN-031", Title: "GitHub deploy role trusts one repository's environment", Severity: High, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "The deploy role's trust must require the sts.amazonaws.com audience and a sub naming one repository's environment or main branch, or workflows elsewhere can assume it.",
		Remediation: `Condition: {StringEquals: {"token.actions.githubusercontent.com:aud": sts.amazonaws.com, "token.actions.githubusercontent.com:sub": "repo:OWNER/REPO:environment:ENV"}}.`}},
	{Rule: Rule{ID: "FG-CFN-032", Title: "Production ECS services deploy with CloudWatch alarms and rollback", Severity: Medium, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "The circuit breaker only sees tasks that fail to start; alarms on the error rate and latency catch a release that starts fine but fails requests, and roll it back.",
		Remediation: "Declare AWS::CloudWatch::Alarm resources (5xx rate, target latency) and set the service's DeploymentConfiguration.Alarms {AlarmNames, Enable: true, Rollback: true}."}},
	{Rule: Rule{ID: "FG-CFN-033", Title: "Traffic-shifting ECS services have their blue/green wiring", Severity: High, Target: TargetCloudFormation, CheckedIn: CheckedInInfra,
		Rationale:   "Blue/green, canary and linear deployments need an alternate target group, a production listener rule and the ECS infrastructure role; blue/green needs a test listener to check the new revision before production traffic moves.",
		Remediation: "Set LoadBalancers[].AdvancedConfiguration {AlternateTargetGroupArn, ProductionListenerRule, TestListenerRule, RoleArn} to resources the template declares."}},

	// Trivy's scan of the templates (evaluated by pipeline/infra.IaCFindings).
	{Rule: Rule{ID: "FG-IAC-001", Title: "Trivy misconfiguration in an infrastructure template", Severity: High, Target: TargetIaCScan, CheckedIn: CheckedInInfra,
		Rationale:   "trivy config checks the templates against its own misconfiguration checks (AVD-AWS-…). Each finding carries Trivy's severity (the severity above applies only when Trivy's is unknown) and names the AVD ID.",
		Remediation: "Fix the template as the AVD ID's documentation describes (https://avd.aquasec.com/misconfig/<id>), or accept the risk in .trivyignore.yaml or with a suppression of this rule for <file>#<AVD ID>."}},

	// Account detective controls (evaluated by pipeline/detectors.Audit).
	{Rule: Rule{ID: "FG-ACCT-000", Title: "Account audit could read every detective control", Severity: Medium, Target: TargetAccount, CheckedIn: CheckedInDetectors,
		Rationale:   "A detective control the audit role cannot read is a control whose state is unknown; the finding carries the controls of the check it could not run.",
		Remediation: "Grant the audit role the permission named in the finding (the AWS managed policy SecurityAudit covers every call the audit makes)."}},
	{Rule: Rule{ID: "FG-ACCT-001", Title: "A multi-Region CloudTrail trail is logging", Severity: High, Controls: []string{"CloudTrail.1"}, Target: TargetAccount, CheckedIn: CheckedInDetectors,
		Rationale:   "Without a logging multi-Region trail, API activity in the account is not recorded in every Region.",
		Remediation: "Create a multi-Region trail with log file validation and KMS encryption, then start logging; or use the organization trail."}},
	{Rule: Rule{ID: "FG-ACCT-002", Title: "CloudTrail trails validate their log files", Severity: Low, Controls: []string{"CloudTrail.4"}, Target: TargetAccount, CheckedIn: CheckedInDetectors,
		Rationale:   "Without log file validation, tampered or deleted log files go unnoticed.",
		Remediation: "aws cloudtrail update-trail --name <trail> --enable-log-file-validation"}},
	{Rule: Rule{ID: "FG-ACCT-003", Title: "GuardDuty is enabled", Severity: High, Controls: []string{"GuardDuty.1"}, Target: TargetAccount, CheckedIn: CheckedInDetectors,
		Rationale:   "Without an enabled GuardDuty detector, threats against the account and the workloads (including ECS runtime monitoring) are not detected.",
		Remediation: "aws guardduty create-detector --enable (or update-detector --enable on the existing detector), in every Region you use."}},
	{Rule: Rule{ID: "FG-ACCT-004", Title: "Security Hub is enabled", Severity: High, Target: TargetAccount, CheckedIn: CheckedInDetectors,
		Rationale:   "Security Hub evaluates the controls this pipeline's rules map to (ECS.*, ECR.*) continuously; it has no control that reports on itself.",
		Remediation: "aws securityhub enable-security-hub --enable-default-standards (AWS Foundational Security Best Practices); it needs AWS Config recording."}},
	{Rule: Rule{ID: "FG-ACCT-005", Title: "AWS Config is recording", Severity: Critical, Controls: []string{"Config.1"}, Target: TargetAccount, CheckedIn: CheckedInDetectors,
		Rationale:   "Without a recording configuration recorder, resource changes are not recorded and Security Hub controls cannot be evaluated.",
		Remediation: "Set up AWS Config with a recorder for all supported resource types and a delivery channel, and start the recorder."}},
	{Rule: Rule{ID: "FG-ACCT-006", Title: "Amazon Inspector scans ECR images", Severity: High, Controls: []string{"Inspector.2"}, Target: TargetAccount, CheckedIn: CheckedInDetectors,
		Rationale:   "Without Inspector ECR scanning, pushed images are not rescanned when new CVEs are published.",
		Remediation: "aws inspector2 enable --resource-types ECR"}},

	// Audit.
	{Rule: Rule{ID: RuleAuditReadFailed, Title: "Audit could read every resource", Severity: Medium, Target: TargetAudit,
		Rationale:   "A resource the audit cannot read is a resource whose rules were not evaluated.",
		Remediation: "Grant the auditing principal the read permission named in the finding (the ReadOnlyAccess or SecurityAudit managed policy covers them)."}},
}

// Rules returns the metadata of every rule, sorted by ID.
func Rules() []Rule {
	out := make([]Rule, 0, len(registry))
	for _, r := range registry {
		rr := r.Rule
		rr.Controls = append([]string(nil), r.Controls...)
		out = append(out, rr)
	}
	sort.Slice(out, func(i, j int) bool { return ruleLess(out[i].ID, out[j].ID) })
	return out
}

// LookupRule returns a rule's metadata by ID.
func LookupRule(id string) (Rule, bool) {
	if d := lookup(id); d != nil {
		r := d.Rule
		r.Controls = append([]string(nil), d.Controls...)
		return r, true
	}
	return Rule{}, false
}

func lookup(id string) *ruleDef {
	for i := range registry {
		if registry[i].ID == id {
			return &registry[i]
		}
	}
	return nil
}

// ruleLess orders IDs by prefix in registry order (TD, SVC, CL, ECR, DF, IAM, CFN, IAC, ACCT,
// AUDIT), then number.
func ruleLess(a, b string) bool {
	pa, pb := prefixRank(a), prefixRank(b)
	if pa != pb {
		return pa < pb
	}
	return a < b
}

func prefixRank(id string) int {
	order := []string{"FG-TD-", "FG-SVC-", "FG-CL-", "FG-ECR-", "FG-DF-", "FG-IAM-", "FG-CFN-", "FG-IAC-", "FG-ACCT-", "FG-AUDIT-"}
	for i, p := range order {
		if strings.HasPrefix(id, p) {
			return i
		}
	}
	return len(order)
}
