#!/usr/bin/env bash
# Runs the JMH micro-benchmarks (src/test/java/dev/nvmelm/jmh). Arguments go to JMH, e.g.
#   ./scripts/jmh.sh CdqConsumerBench -f 1 -wi 2 -i 3 -rf json -rff bench/results/jmh.json
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
mvn -B -q -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/test.classpath -Dmdep.includeScope=test >/dev/null
java="$(ls -d /usr/lib/jvm/temurin-25*/bin/java 2>/dev/null | head -1)"
exec "${java:-java}" --enable-native-access=ALL-UNNAMED -cp "target/test-classes:target/classes:$(cat target/test.classpath)" org.openjdk.jmh.Main "$@"
