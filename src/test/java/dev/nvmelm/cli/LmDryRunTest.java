package dev.nvmelm.cli;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The HMLM command encodings (docs/spec.md), through the command line with --dry-run. */
class LmDryRunTest {

    private static CliRunner json(String... args) {
        String[] a = java.util.Arrays.copyOf(args, args.length + 3);
        a[args.length] = "--dry-run";
        a[args.length + 1] = "-o";
        a[args.length + 2] = "json";
        CliRunner r = CliRunner.run(a);
        assertThat(r.exit()).as(r.err()).isZero();
        return r;
    }

    @Test
    void createCdq4KiBForCntlid2() {
        CliRunner r = json("lm", "create-cdq", "/dev/nvme0", "--size=1024", "--cntlid=2");
        assertThat(r.jsonLong("opcode")).isEqualTo(0x45);
        assertThat(r.jsonLong("cdw10")).isEqualTo(0);
        assertThat(r.jsonLong("cdw11")).isEqualTo(0x00020001L);
        assertThat(r.jsonLong("cdw12")).isEqualTo(1024);
        assertThat(r.jsonLong("data_len")).isEqualTo(4096);
    }

    @Test
    void createCdqAcceptsHexAndShortOptions() {
        CliRunner r = json("lm", "create-cdq", "/dev/nvme0", "-s", "0x400", "-c", "0x2");
        assertThat(r.jsonLong("cdw11")).isEqualTo(0x00020001L);
        assertThat(r.jsonLong("cdw12")).isEqualTo(1024);
    }

    @Test
    void deleteCdq3() {
        CliRunner r = json("lm", "delete-cdq", "/dev/nvme0", "--cdqid=3");
        assertThat(r.jsonLong("cdw10")).isEqualTo(1);
        assertThat(r.jsonLong("cdw11")).isEqualTo(3);
    }

    @Test
    void trackSendStartAndStopOnCdq3() {
        CliRunner start = json("lm", "track-send", "/dev/nvme0", "--sel=0", "--cdqid=3", "--start");
        assertThat(start.jsonLong("opcode")).isEqualTo(0x3d);
        assertThat(start.jsonLong("cdw10")).isEqualTo(0x00010000L);
        assertThat(start.jsonLong("cdw11")).isEqualTo(3);
        CliRunner stop = json("lm", "track-send", "/dev/nvme0", "--sel=0", "--cdqid=3", "--stop");
        assertThat(stop.jsonLong("cdw10")).isEqualTo(0);
    }

    @Test
    void suspendCntlid2WithAndWithoutDudmq() {
        assertThat(json("lm", "migration-send", "/dev/nvme0", "--sel=0", "--cntlid=2", "--stype=1", "--dudmq")
                .jsonLong("cdw11")).isEqualTo(0x80010002L);
        assertThat(json("lm", "migration-send", "/dev/nvme0", "--sel=0", "--cntlid=2", "--stype=1")
                .jsonLong("cdw11")).isEqualTo(0x00010002L);
        assertThat(json("lm", "migration-send", "/dev/nvme0", "--sel=0", "--cntlid=2")
                .jsonLong("cdw11")).isEqualTo(0x00000002L);
    }

    @Test
    void resumeCntlid2() {
        CliRunner r = json("lm", "migration-send", "/dev/nvme0", "--sel=1", "--cntlid=2");
        assertThat(r.jsonLong("opcode")).isEqualTo(0x41);
        assertThat(r.jsonLong("cdw10")).isEqualTo(1);
        assertThat(r.jsonLong("cdw11")).isEqualTo(2);
    }

    @Test
    void setControllerStateEntireFromFile(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path f = dir.resolve("state.bin");
        java.nio.file.Files.write(f, new byte[104]);
        CliRunner r = json("lm", "migration-send", "/dev/nvme0", "--sel=2", "--cntlid=2", "--seq-ind=3", "--csvi=1",
                "--input-file=" + f);
        assertThat(r.jsonLong("cdw10")).isEqualTo(0x00030002L);
        assertThat(r.jsonLong("cdw11")).isEqualTo(0x00010002L);
        assertThat(r.jsonLong("cdw15")).isEqualTo(26);
        assertThat(r.jsonLong("data_len")).isEqualTo(104);
    }

    @Test
    void getControllerState4KiB() {
        CliRunner r = json("lm", "migration-recv", "/dev/nvme0", "--sel=0", "--cntlid=2", "--csvi=1", "--numd=1023");
        assertThat(r.jsonLong("opcode")).isEqualTo(0x42);
        assertThat(r.jsonLong("cdw10")).isEqualTo(0x00010000L);
        assertThat(r.jsonLong("cdw11")).isEqualTo(2);
        assertThat(r.jsonLong("cdw15")).isEqualTo(0x3ff);
        assertThat(r.jsonLong("data_len")).isEqualTo(4096);
    }

    @Test
    void setCdqReportHeadAndArmTrigger() {
        CliRunner head = json("lm", "set-cdq", "/dev/nvme0", "--cdqid=3", "--hp=5");
        assertThat(head.jsonLong("opcode")).isEqualTo(0x09);
        assertThat(head.jsonLong("cdw10")).isEqualTo(0x21);
        assertThat(head.jsonLong("cdw11")).isEqualTo(3);
        assertThat(head.jsonLong("cdw12")).isEqualTo(5);
        assertThat(head.jsonLong("cdw13")).isEqualTo(0);
        CliRunner armed = json("lm", "set-cdq", "/dev/nvme0", "--cdqid=3", "--hp=5", "--tpt=9");
        assertThat(armed.jsonLong("cdw11")).isEqualTo(0x80000003L);
        assertThat(armed.jsonLong("cdw13")).isEqualTo(9);
    }

    @Test
    void largeTptStillSetsEtpt() {
        CliRunner r = json("lm", "set-cdq", "/dev/nvme0", "--cdqid=3", "--tpt=0x80000001");
        assertThat(r.jsonLong("cdw11")).isEqualTo(0x80000003L);
        assertThat(r.jsonLong("cdw13")).isEqualTo(0x80000001L);
    }

    /** NVMe Base 2.1, section 5.1.17.1.3: the command that ends a Set Controller State sequence may carry no data. */
    @Test
    void aLastSetControllerStateMayCarryNoData() {
        CliRunner r = json("lm", "migration-send", "/dev/nvme0", "--sel=2", "--cntlid=1", "--seq-ind=2", "--csvi=1", "--offset=4096", "--numd=0");
        assertThat(r.jsonLong("cdw10")).isEqualTo(2 | 2 << 16);
        assertThat(r.jsonLong("cdw15")).isZero();
        assertThat(r.jsonLong("data_len")).isZero();
        CliRunner first = CliRunner.run("lm", "migration-send", "/dev/nvme0", "--sel=2", "--cntlid=1", "--seq-ind=1", "--csvi=1", "--numd=0", "--dry-run");
        assertThat(first.exit()).isEqualTo(1);
        assertThat(first.err()).contains("--input-file");
    }

    /** NVMe Base 2.1, Figure 427: the Get Features FID 21h data structure is 512 bytes (libnvme's struct has 8). */
    @Test
    void getCdqReadsTheWhole512ByteStructure() {
        CliRunner r = json("lm", "get-cdq", "/dev/nvme0", "--cdqid=3");
        assertThat(r.jsonLong("opcode")).isEqualTo(0x0a);
        assertThat(r.jsonLong("cdw10")).isEqualTo(0x21);
        assertThat(r.jsonLong("cdw11")).isEqualTo(3);
        assertThat(r.jsonLong("data_len")).isEqualTo(512);
    }

    @Test
    void normalFormatIsAlignedNameValueLines() {
        CliRunner r = CliRunner.run("lm", "create-cdq", "/dev/nvme0", "--size=1024", "--cntlid=2", "--dry-run");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("opcode       : 45\n").contains("cdw11        : 00020001\n")
                .contains("cdw12        : 00000400\n").contains("data_len     : 00001000\n");
    }
}
