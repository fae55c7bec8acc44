package dev.nvmelm.fuzz;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The short fuzzing run of the test suite (docs/testing.md, "Fuzzing"): every target, through
 * {@link AllTargetsFuzzTest}, in Jazzer's fuzzing mode for {@link #SECONDS} seconds in a child
 * JVM. The committed regression inputs of every target run in regression mode beside it; longer
 * runs are {@code scripts/fuzz.sh}. A finding fails this test and stays in the build's
 * target/ directory (target/fuzz-findings, never in the source tree): the message names it, and fuzz.sh or a copy by
 * hand turns it into a committed regression input.
 */
class FuzzShortRunTest {
    static final int SECONDS = Integer.getInteger("nvmelm.fuzzSeconds", 20);

    @Test
    void everyTargetRunsCleanForAShortWhile() throws Exception {
        Path root = Path.of("").toAbsolutePath();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        FuzzRunner.Target all = new FuzzRunner.Target(AllTargetsFuzzTest.class.getName(), "all");
        // under target/, not a temporary directory: the log and any finding must outlive a failed run
        Path work = root.resolve("target/fuzz-short");
        Path findings = Files.createDirectories(root.resolve("target/fuzz-findings"));
        FuzzRunner.Result r = FuzzRunner.run(all, SECONDS, findings, cp, work);
        assertThat(r.crashes()).as("findings saved under %s: %s (log: %s)", findings, r.savedInputs(), work.resolve(all.name() + ".log")).isZero();
        assertThat(r.executions()).as("inputs the fuzzer ran").isPositive();
    }
}
