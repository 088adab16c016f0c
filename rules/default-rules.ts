/**
 * The rules `tollgate serve` runs with when no rules file is given: the common wisdom of
 * observability cost governance, in audit mode.
 *
 * Why audit: these policies guess at what is waste and what is personal data, and the guess
 * is wrong somewhere for someone (an `ipv4` label that is really a bounded set of gateways, a
 * `request_id` a team truly aggregates on). A sidecar that starts by deleting data on day one
 * gets removed on day two. In audit mode Tollgate counts and reports, per team and policy,
 * everything it *would* drop, redact or cut, so a newcomer sees the effect on their own traffic
 * before anything is enforced, then switches `mode: enforce` on (globally or per policy).
 *
 * The sampling rules are the documented default (keep errors, sample the rest) plus a drop of
 * health-check spans: probes are the one kind of span that is both plentiful and never read.
 */
export const DEFAULT_RULES_YAML = `# Tollgate governance rules: the embedded default (tollgate serve without --rules).
# Reference: docs/rules.md. Validate your own copy with: tollgate lint rules.yaml
version: 1

# audit: count and report what every policy and budget *would* do, change nothing.
# Once the reports look right, switch to enforce here or per policy.
mode: audit

teams:
  # One catch-all team (no match): every resource belongs to it.
  - name: default
    tier: standard                 # built-in: traces 25 %, warn/error/fatal logs all kept
    budgets:
      metrics:
        max_active_series: 100000  # generous: a start, not a target
        default_max_series_per_metric: 10000
        action: overflow           # new series over the limit fold into otel.metric.overflow=true

attribute_policies:
  # Metrics: labels that are unbounded by nature make a new series per request or per user.
  # Data point attributes only: resource attributes such as service.instance.id are UUIDs by
  # design and tell instances apart, which is what keeps cumulative series correct.
  - name: metrics-unbounded-label-keys
    signals: [metrics]
    targets: [attributes]
    keys:
      - user_id
      - user.id
      - enduser.id
      - "*.user_id"
      - request_id
      - request.id
      - "*.request_id"
      - session_id
      - session.id
      - "*.session_id"
      - trace_id
      - span_id
      - trace.id
      - span.id
    action: drop

  # GenAI prompt and completion content (and prompt hashes) never belongs in a label.
  - name: metrics-genai-content
    signals: [metrics]
    targets: [attributes]
    keys: ["gen_ai.prompt*", "gen_ai.completion*", gen_ai.input.messages, gen_ai.output.messages, gen_ai.system_instructions]
    action: drop

  # Metrics: values that are identifiers or addresses, whatever the key is called.
  - name: metrics-unbounded-label-values
    signals: [metrics]
    targets: [attributes]
    values: [email, ipv4, ipv6, uuid, hex]
    action: drop

  # Spans and logs: personal data and credentials, wherever they appear (log bodies too).
  - name: redact-personal-data
    signals: [traces, logs]
    targets: [resource, attributes, body]
    values: [email, credit_card, jwt]
    action: redact

  # Spans and logs: very long values (prompts, payload dumps) cost more than they are read.
  # Keep it last: a key pattern of "*" takes every attribute no earlier policy took.
  - name: truncate-long-values
    signals: [traces, logs]
    keys: "*"
    action: truncate
    max_length: 4096

# Sampling: for each span and log record the first rule that matches decides: keep it (whatever
# the tier and budget), drop it, or sample it by its team's tier and budget. A file without this
# section gets these rules without drop-health-checks.
sampling:
  rules:
    # Errors are what someone reads during an incident: never sampled away, whatever the budget.
    - name: keep-errors
      signals: [traces]            # status is a span condition
      when: { status: error }
      action: keep
    - name: keep-error-logs
      signals: [logs]
      when: { min_severity: error } # severity number 17 and up: error and fatal
      action: keep

    # Load-balancer and Kubernetes probes: a span every few seconds per instance that nobody
    # reads. After keep-errors, so a failing probe is still kept.
    - name: drop-health-checks
      signals: [traces]
      when:
        span_name: ["GET /healthz", "GET /readyz", "GET /livez", "GET /health", "grpc.health.v1.Health/*"]
      action: drop

    # The catch-all (required, last): everything else by the team's tier and budget.
    - name: sample-the-rest
      action: sample
`;
