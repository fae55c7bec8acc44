package dev.nvmelm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Bad input to migrate, demo and tls gen: one line naming the cause, exit 1, and nothing written. */
class CliRoughEdgesTest {
    @TempDir
    Path dir;

    static void refused(CliRunner r, String... parts) {
        assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
        assertThat(r.err()).contains(parts).doesNotContain("internal error").doesNotContain("Exception");
    }

    Path image(String name) throws Exception {
        Path p = dir.resolve(name);
        byte[] b = new byte[16 << 20];
        new Random(1).nextBytes(b);
        Files.write(p, b);
        return p;
    }

    @Test
    void fileErrorsNameTheirCause() throws Exception {
        Path src = image("src.img");
        refused(CliRunner.run("migrate", "--source-image", dir.toString(), "--dest-image", dir.resolve("d.img").toString()), "is a directory");
        refused(CliRunner.run("migrate", "--source-image", dir.resolve("nope.img").toString(), "--dest-image", dir.resolve("d.img").toString()),
                "does not exist");
        refused(CliRunner.run("migrate", "--source-image", src.toString(), "--dest-image", dir.toString()), "is a directory");
        refused(CliRunner.run("migrate", "--source-image", src.toString(), "--dest-image", dir.resolve("no/such/d.img").toString()),
                "does not exist");
        assertThat(dir.resolve("no")).doesNotExist();
    }

    @Test
    void verifyNoneLeavesNoIncompleteMarker() throws Exception {
        Path src = image("src.img"), dst = dir.resolve("dst.img");
        CliRunner r = CliRunner.run("migrate", "--source-image", src.toString(), "--dest-image", dst.toString(), "--verify", "none");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("verified      no (--verify none)");
        assertThat(dir.resolve("dst.img.incomplete")).doesNotExist();
        assertThat(Files.mismatch(src, dst)).isEqualTo(-1);
    }

    @Test
    void theWorkloadSaysItWritesIntoTheSource() throws Exception {
        Path src = image("src.img"), dst = dir.resolve("dst.img");
        CliRunner r = CliRunner.run("migrate", "--source-image", src.toString(), "--dest-image", dst.toString(),
                "--workload", "random-write:iops=200,bs=4k,seconds=1");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).contains("the --workload guest writes into " + src);
        assertThat(CliRunner.run("migrate", "--help").out().replaceAll("\\s+", " ")).contains("SRC is changed");
    }

    @Test
    void demoChecksItsOptionsBeforeBuildingAnything() {
        Path keep = dir.resolve("keep");
        refused(CliRunner.run("demo", "--keep", keep.toString(), "--on-stall", "bogus"), "--on-stall");
        refused(CliRunner.run("demo", "--keep", keep.toString(), "--verify", "bogus"), "--verify");
        refused(CliRunner.run("demo", "--keep", keep.toString(), "--seconds", "-1"), "--seconds");
        refused(CliRunner.run("demo", "--keep", keep.toString(), "--max-time", "0"), "--max-time");
        assertThat(keep).doesNotExist();
        refused(CliRunner.run("demo", "--keep", dir.resolve("nonexistent/x").toString()), "does not exist");
        assertThat(dir.resolve("nonexistent")).doesNotExist();
    }

    @Test
    void timeoutHelpSaysWhatTheCodeUses() {
        assertThat(CliRunner.run("io", "read", "--help").out()).contains("60000 for admin and I/O").doesNotContain("30000");
    }

    @Test
    void tlsGenDryRunWritesNothingJsonIsJsonAndABadSanLeavesNothing() throws Exception {
        Path tls = dir.resolve("tls");
        CliRunner dry = CliRunner.run("tls", "gen", "--dir", tls.toString(), "--dry-run");
        assertThat(dry.exit()).isZero();
        assertThat(dry.out()).contains("would write " + tls.resolve("ca.crt"));
        assertThat(tls).doesNotExist();
        refused(CliRunner.run("tls", "gen", "--dir", tls.toString(), "--san", "bad name!"), "--san 'bad name!'");
        refused(CliRunner.run("tls", "gen", "--dir", tls.toString(), "--san", "300.1.1.1"), "--san '300.1.1.1'");
        assertThat(tls).doesNotExist();
        CliRunner ok = CliRunner.run("tls", "gen", "--dir", tls.toString(), "--san", "migrate.example", "--san", "10.0.0.2", "-o", "json");
        assertThat(ok.exit()).as(ok.err()).isZero();
        assertThat(ok.out()).startsWith("{").contains("\"dry_run\": false").contains(tls.resolve("client.key").toString());
        try (var files = Files.list(tls)) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly("ca.crt", "client.crt", "client.key", "server.crt", "server.key");
        }
    }

    /** The command list shows each command's first description line: a whole sentence, and no issue numbers anywhere in help. */
    @Test
    void everyCommandsFirstHelpLineIsAWholeSentence() {
        var top = new picocli.CommandLine(new Main());
        java.util.List<picocli.CommandLine> all = new java.util.ArrayList<>();
        java.util.ArrayDeque<picocli.CommandLine> todo = new java.util.ArrayDeque<>(java.util.List.of(top));
        while (!todo.isEmpty()) {
            picocli.CommandLine c = todo.pop();
            all.add(c);
            todo.addAll(c.getSubcommands().values());
        }
        for (picocli.CommandLine c : all) {
            String[] d = c.getCommandSpec().usageMessage().description();
            if (d.length == 0) continue;
            assertThat(d[0]).as(c.getCommandSpec().qualifiedName()).doesNotEndWith(",").doesNotEndWith(":").doesNotEndWith(" by")
                    .doesNotEndWith(" a destination");
            assertThat(c.getUsageMessage()).as(c.getCommandSpec().qualifiedName()).doesNotContainPattern("issue \\d");
        }
    }
}
