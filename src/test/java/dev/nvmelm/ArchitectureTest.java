package dev.nvmelm;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Dependencies point one way: spec <- device, and spec <- host <- migrate <- cli. The host
 * library never sees controller internals; it reaches a controller only through spec.bus
 * (as hardware) or its own NvmeDevice interface.
 */
class ArchitectureTest {
    private static final Map<String, Set<String>> ALLOWED = Map.ofEntries(
            Map.entry("spec", Set.of("spec")),
            // util is JDK-only plumbing (JSON) that every layer above spec may use
            Map.entry("util", Set.of("util")),
            Map.entry("device", Set.of("spec", "device", "util")),
            Map.entry("host", Set.of("spec", "host", "util")),
            // block: the block-device contract and its file and NVMe implementations, below the
            // engine and the transports so that neither depends on the other for it
            Map.entry("block", Set.of("spec", "host", "block", "util")),
            Map.entry("migrate", Set.of("spec", "host", "block", "migrate", "util")),
            Map.entry("net", Set.of("spec", "host", "block", "migrate", "net", "util")),
            Map.entry("nbd", Set.of("spec", "host", "block", "migrate", "nbd", "util")),
            // embedded wires a software subsystem (device) to host drivers in one process or behind
            // a served socket; it is the only place besides cli and bench that sees both sides.
            Map.entry("embedded", Set.of("spec", "device", "host", "block", "migrate", "embedded", "util")),
            // vm: QEMU processes and QMP (tests, migrate --vm-qmp, demo --vm, bench vm); knows no NVMe
            Map.entry("vm", Set.of("spec", "vm", "util")),
            Map.entry("cli", Set.of("spec", "device", "host", "block", "migrate", "net", "nbd", "embedded", "cli", "bench", "vm", "util")),
            Map.entry("bench", Set.of("spec", "device", "host", "block", "migrate", "net", "nbd", "embedded", "bench", "vm", "util")));

    private static final Pattern REF = Pattern.compile("\\bdev\\.nvmelm\\.([a-z]+)\\b");

    @Test
    void packagesDependOnlyInTheAllowedDirection() throws IOException {
        Path root = Path.of("src/main/java/dev/nvmelm");
        List<String> violations = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String pkg = root.relativize(f).getName(0).toString();
                Set<String> allowed = ALLOWED.get(pkg);
                assertThat(allowed).as("top-level package %s is not in the architecture map", pkg).isNotNull();
                Matcher m = REF.matcher(Files.readString(f));
                while (m.find()) {
                    if (!allowed.contains(m.group(1))) violations.add(f + " uses dev.nvmelm." + m.group(1));
                }
            }
        }
        assertThat(violations).isEmpty();
    }

    @Test
    void specUsesNothingButTheJdk() throws IOException {
        try (Stream<Path> files = Files.walk(Path.of("src/main/java/dev/nvmelm/spec"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                for (String line : Files.readAllLines(f)) {
                    if (line.startsWith("import ")) {
                        assertThat(line).as(f.toString()).matches("import (static )?(java|dev\\.nvmelm\\.spec)\\..*");
                    }
                }
            }
        }
    }
}
