#!/usr/bin/env bash
# Runs `tollgate check` from environment variables: the one script behind the GitHub Action
# (deploy/ci/github) and the GitLab job template (deploy/ci/gitlab), so both build the same
# command line. List variables take one item per line (or separated by spaces).
#
#   TOLLGATE              the command to run (default: node <this repo>/dist/cli/main.js)
#   TOLLGATE_RULES        rules file (default: the embedded default rules)
#   TOLLGATE_OTLP         OTLP files (JSON lines or protobuf)            -> --otlp
#   TOLLGATE_PROM         Prometheus exposition text files               -> --prom
#   TOLLGATE_SCRAPE       URLs to scrape                                 -> --scrape
#   TOLLGATE_RESOURCE     KEY=VALUE resource attributes for Prometheus   -> --resource
#   TOLLGATE_BASELINE     baseline files                                 -> --baseline
#   TOLLGATE_MAX_GROWTH   e.g. 20%                                       -> --max-growth
#   TOLLGATE_SUPPRESSIONS suppressions file                              -> --suppressions
#   TOLLGATE_SOURCE       source folder for annotations                  -> --source
#   TOLLGATE_FAIL_ON      error or warning                               -> --fail-on
#   TOLLGATE_API          a running Tollgate (token in TOLLGATE_TOKEN)   -> --api
#   TOLLGATE_FORMATS      output formats, FMT or FMT=PATH               -> --format
#
# Exits with the check's own exit code: 0 pass, 3 findings, 2 usage error, 1 error.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
read -r -a command <<< "${TOLLGATE:-node $repo/dist/cli/main.js}"

args=(check)
add_list() {
  local flag="$1" value="$2" item
  # Word splitting on spaces and newlines is the point here: one flag per item.
  for item in $value; do
    args+=("$flag" "$item")
  done
}
add_one() {
  local flag="$1" value="$2"
  if [[ -n "$value" ]]; then args+=("$flag" "$value"); fi
}

add_one --rules "${TOLLGATE_RULES:-}"
add_list --otlp "${TOLLGATE_OTLP:-}"
add_list --prom "${TOLLGATE_PROM:-}"
add_list --scrape "${TOLLGATE_SCRAPE:-}"
add_list --resource "${TOLLGATE_RESOURCE:-}"
add_list --baseline "${TOLLGATE_BASELINE:-}"
add_one --max-growth "${TOLLGATE_MAX_GROWTH:-}"
add_one --suppressions "${TOLLGATE_SUPPRESSIONS:-}"
add_one --source "${TOLLGATE_SOURCE:-}"
add_one --fail-on "${TOLLGATE_FAIL_ON:-}"
add_one --api "${TOLLGATE_API:-}"
add_list --format "${TOLLGATE_FORMATS:-}"

echo "+ tollgate ${args[*]}" >&2
"${command[@]}" "${args[@]}"
