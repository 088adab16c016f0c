#!/usr/bin/env bash
# Pre-fetches the Apache Kafka broker the Kafka tests start (test/support/kafka-broker.ts), so CI
# fails here, early and clearly, when Java/Maven are missing or Maven Central is unreachable.
# Idempotent: a complete cache (marked by .complete) is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  echo "setup-kafka: installing Java 17 and Maven"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends openjdk-17-jre-headless maven
fi
# sed, not head: head would close the pipe early and, under pipefail, fail the script on SIGPIPE.
java -version 2>&1 | sed -n 1p
mvn -v 2>&1 | sed -n 1p

pom=test/kafka/pom.xml
version=$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$pom")
cache="${TOLLGATE_KAFKA_CACHE:-$HOME/.cache/tollgate/kafka/$version}"
if [[ -f "$cache/.complete" ]]; then
  echo "setup-kafka: Kafka $version already cached in $cache"
  exit 0
fi

# Same layout as ensureKafkaJars(): copy into a sibling staging dir, then rename into place.
mkdir -p "$(dirname "$cache")"
staging=$(mktemp -d "$(dirname "$cache")/.fetch-XXXXXX")
trap 'rm -rf "$staging"' EXIT
mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$staging"
date -u +%FT%TZ > "$staging/.complete"
if ! mv -T "$staging" "$cache" 2>/dev/null; then
  [[ -f "$cache/.complete" ]] || { echo "setup-kafka: could not move the jars into $cache" >&2; exit 1; }
fi
trap - EXIT
echo "setup-kafka: Kafka $version fetched into $cache ($(ls "$cache" | wc -l) jars)"
