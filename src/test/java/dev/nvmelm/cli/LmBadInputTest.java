package dev.nvmelm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Every bad input: one clear line on stderr, exit 1, no stack trace (unless -vv). */
class LmBadInputTest {

    private static CliRunner fails(String... args) {
        CliRunner r = CliRunner.run(args);
        assertThat(r.exit()).as("exit status of %s", String.join(" ", args)).isEqualTo(1);
        assertThat(r.err().strip().lines().count()).as("one line: %s", r.err()).isEqualTo(1);
        assertThat(r.err()).doesNotContain("Exception").doesNotContain("\tat ");
        return r;
    }

    @Test
    void missingSelect() {
        assertThat(fails("lm", "track-send", "/dev/nvme0", "--cdqid=1", "--start", "--dry-run").err())
                .contains("Select field required");
        assertThat(fails("lm", "migration-recv", "/dev/nvme0", "--cntlid=1", "--dry-run").err())
                .contains("Select field required");
        assertThat(fails("lm", "migration-send", "/dev/nvme0", "--cntlid=1", "--dry-run").err())
                .contains("Select field required");
    }

    @Test
    void undefinedSelect() {
        assertThat(fails("lm", "track-send", "/dev/nvme0", "--sel=7", "--dry-run").err()).contains("--sel=7");
        assertThat(fails("lm", "track-send", "/dev/nvme0", "--sel=1", "--dry-run").err()).contains("Track Memory Changes");
        assertThat(fails("lm", "migration-send", "/dev/nvme0", "--sel=3", "--dry-run").err()).contains("--sel=3");
        assertThat(fails("lm", "migration-recv", "/dev/nvme0", "--sel=1", "--dry-run").err()).contains("--sel=1");
    }

    @Test
    void startWithStop() {
        assertThat(fails("lm", "track-send", "/dev/nvme0", "--sel=0", "--start", "--stop", "--dry-run").err())
                .contains("Must select one of start & stop, not both");
    }

    @Test
    void valuesThatDoNotFitTheirField() {
        assertThat(fails("lm", "create-cdq", "/dev/nvme0", "--size=1024", "--cntlid=70000", "--dry-run").err())
                .contains("--cntlid").contains("70000");
        assertThat(fails("lm", "migration-send", "/dev/nvme0", "--sel=0", "--cntlid=1", "--stype=256", "--dry-run").err())
                .contains("--stype");
        assertThat(fails("lm", "delete-cdq", "/dev/nvme0", "--cdqid=0x10000", "--dry-run").err()).contains("--cdqid");
        assertThat(fails("lm", "set-cdq", "/dev/nvme0", "--cdqid=1", "--tpt=0x100000000", "--dry-run").err()).contains("--tpt");
        assertThat(fails("lm", "create-cdq", "/dev/nvme0", "--size=abc", "--dry-run").err()).contains("abc");
    }

    @Test
    void seqIndFour(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("s");
        java.nio.file.Files.write(f, new byte[8]);
        assertThat(fails("lm", "migration-send", "/dev/nvme0", "--sel=2", "--cntlid=1", "--seq-ind=4",
                "--input-file=" + f, "--dry-run").err()).contains("--seq-ind");
    }

    @Test
    void setStateWithoutOrWithUnreadableInputFile(@TempDir Path dir) {
        assertThat(fails("lm", "migration-send", "/dev/nvme0", "--sel=2", "--cntlid=1", "--dry-run").err())
                .contains("requires --input-file");
        assertThat(fails("lm", "migration-send", "/dev/nvme0", "--sel=2", "--cntlid=1",
                "--input-file=" + dir.resolve("missing"), "--dry-run").err()).contains("cannot read --input-file");
    }

    @Test
    void unknownOutputFormat() {
        assertThat(fails("lm", "get-cdq", "/dev/nvme0", "--cdqid=1", "-o", "yaml", "--dry-run").err())
                .contains("Invalid output format");
    }

    @Test
    void unexpectedFieldsForSuspend() {
        assertThat(fails("lm", "migration-send", "/dev/nvme0", "--sel=0", "--cntlid=1", "--csvi=1", "--dry-run").err())
                .contains("Unexpected fields for Suspend");
    }

    /** NVMe Base 2.1, Figure 164: CDQSIZE must be whole 32-byte entries, refused in a dry run as on a device. */
    @Test
    void cdqSizeNotWholeEntries() {
        for (String size : new String[]{"4", "0", "12", "1020"}) {
            assertThat(fails("lm", "create-cdq", "/dev/nvme0", "--size=" + size, "--cntlid=1", "--dry-run").err())
                    .as("--size=%s", size).contains("not a whole number of 32-byte entries");
            assertThat(fails("lm", "create-cdq", "/dev/nvme0", "--size=" + size, "--cntlid=1").err())
                    .as("--size=%s without --dry-run", size).contains("not a whole number of 32-byte entries");
        }
    }

    @Test
    void unknownOption() {
        assertThat(fails("lm", "create-cdq", "/dev/nvme0", "--size=8", "--bogus").err()).contains("--bogus");
    }

    @Test
    void veryVerbosePrintsTheTrace() {
        CliRunner r = CliRunner.run("lm", "create-cdq", "/dev/nvme0", "--size=1024", "--cntlid=70000", "--dry-run", "-vv");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("\tat ");
    }
}
