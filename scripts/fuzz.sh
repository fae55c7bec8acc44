#!/usr/bin/env bash
# Fuzzes every Jazzer target (docs/testing.md, "Fuzzing") in fuzzing mode, one JVM per target.
#   ./scripts/fuzz.sh [--seconds-per-target N] [--only NAME] [--list] [-o json]
# Findings are moved into src/test/resources/<package>/<Class>Inputs/<method>/, where `mvn test`
# replays them. Exit 0 when no target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
[ -x "$JAVA_HOME/bin/java" ] || { echo "fuzz.sh: no Java 25 at $JAVA_HOME" >&2; exit 2; }
mvn -B -q -o test-compile dependency:build-classpath -Dmdep.outputFile=target/fuzz-classpath.txt -Dmdep.includeScope=test >&2 \
  || mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/fuzz-classpath.txt -Dmdep.includeScope=test >&2
CP="$PWD/target/test-classes:$PWD/target/classes:$(cat target/fuzz-classpath.txt)"
exec "$JAVA_HOME/bin/java" -cp "$CP" dev.nvmelm.fuzz.FuzzRunner "$@"
