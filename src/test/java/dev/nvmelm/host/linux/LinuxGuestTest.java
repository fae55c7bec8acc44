package dev.nvmelm.host.linux;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * nvme-lm's CLI inside a real Linux kernel: a Debian cloud kernel under QEMU (TCG unless the host
 * has kvm_intel/kvm_amd) with QEMU's emulated NVMe controller on an image file in a temporary
 * directory. The guest is built by scripts/guest-build.sh (kernel, busybox initramfs, jlink'ed
 * runtime; cached under target/guest) and runs scripts/guest/nvme-lm-guest.sh, which runs each
 * command as its own JVM through the Linux backend's passthrough and CDQ ioctls. This test reads
 * the serial console up to the guest's markers, judges every step, and then compares the image on
 * the host. Skipped only where QEMU cannot run (no qemu-system-x86_64, or not Linux x86_64).
 * docs/linux-backend.md records what ran and on which kernel.
 */
class LinuxGuestTest {
    private static final Path ROOT = Path.of("").toAbsolutePath();
    private static final int LBA_BYTES = 512;   // QEMU's nvme default format (LBA format 0)
    private static final String SERIAL = "NVMELMGUEST";

    /** One step of the guest script: its exit status and output lines. */
    record Step(String name, int rc, List<String> out, List<String> err, long ms) {}

    @Test
    @Timeout(value = 20, unit = TimeUnit.MINUTES)
    void nvmeLmRunsAgainstTheKernelsNvmeDriver(@TempDir Path work) throws Exception {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        assumeTrue(os.contains("linux") && (arch.equals("amd64") || arch.equals("x86_64")),
                "the guest is an x86_64 Debian kernel; this is " + os + "/" + arch);
        Result check = run(work, "scripts/guest/qemu-run.sh", "--check");
        assumeTrue(check.rc == 0, "QEMU cannot run here: " + check.output.strip());

        Result built = run(work, "scripts/guest-build.sh", ROOT.resolve("target/guest").toString());
        assertThat(built.rc).as("scripts/guest-build.sh:%n%s", built.output).isZero();
        Map<String, String> guest = keyValues(built.output);

        byte[] data = new byte[8 * LBA_BYTES];
        new Random(16).nextBytes(data);
        Path initrd = initrd(work, guest, data);
        Path image = work.resolve("disk.img");
        byte[] seed = seededImage(image);

        long t0 = System.nanoTime();
        List<String> console = new ArrayList<>();
        Map<String, Step> steps = boot(work, guest.get("KERNEL"), initrd, image, console);
        long guestMs = (System.nanoTime() - t0) / 1_000_000;
        String log = String.join("\n", console);
        System.out.printf("LinuxGuestTest: kernel %s, guest run %d ms; steps (ms): %s%n", guest.get("KERNEL_RELEASE"), guestMs,
                steps.values().stream().map(s -> s.name() + "=" + s.ms()).toList());
        Step dmesg = steps.get("dmesg");
        if (dmesg != null) dmesg.out().forEach(l -> System.out.println("LinuxGuestTest: guest dmesg: " + l));

        assertThat(console).as(log).contains("CHECKS-DONE");
        assertThat(console).as(log).anyMatch(l -> l.startsWith("GUEST-INIT ") && l.endsWith("kernel=" + guest.get("KERNEL_RELEASE")));

        // Identify Controller through the controller node, and as JSON through the namespace node
        ok(steps, "id-ctrl");
        assertThat(steps.get("id-ctrl").out()).anyMatch(l -> l.matches("mn +: QEMU NVMe Ctrl"))
                .anyMatch(l -> l.matches("sn +: " + SERIAL)).anyMatch(l -> l.matches("hmlms +: 0"));
        ok(steps, "id-ctrl-json");
        assertThat(String.join("\n", steps.get("id-ctrl-json").out())).contains("\"sn\": \"" + SERIAL + "\"", "\"hmlms\": 0");

        // Read what the host seeded, Format NVM erases it
        ok(steps, "read-seed");
        assertThat(steps.get("seed-md5").out()).singleElement().asString().startsWith(md5(seed));
        ok(steps, "format");
        assertThat(steps.get("format").out()).containsExactly("Success formatting namespace:1");
        ok(steps, "read-after-format");
        assertThat(steps.get("formatted-md5").out()).singleElement().asString().startsWith(md5(new byte[seed.length]));

        // Write and read back through the namespace block device, the generic node and the controller node
        ok(steps, "write-ns");
        ok(steps, "read-ns");
        assertThat(steps.get("compare-ns").rc()).as("guest cmp of written and read data").isZero();
        ok(steps, "read-ng");
        assertThat(steps.get("compare-ng").rc()).as("guest cmp of the data read through /dev/ng0n1").isZero();
        ok(steps, "write-ctrl");
        ok(steps, "read-ctrl");
        assertThat(steps.get("ctrl-bytes").out()).anyMatch(l -> l.matches(" *512 a5"));
        fails(steps, "io-wrong-nsid", "nvme-lm: namespace 2 does not exist on /dev/nvme0n1");

        // No CDQ ioctl in this kernel: the probe's one line, on the controller and the namespace node
        String noCdq = "nvme-lm: /dev/nvme0: this kernel does not offer the CDQ ioctl (RFC not applied;"
                + " NVME_IOCTL_CDQ and NVME_IOCTL_ADMIN_CDQ: ENOTTY); passthrough-only mode: Track Send,"
                + " Migration Send/Receive, Identify and Features still work";
        fails(steps, "create-cdq", noCdq);
        fails(steps, "create-cdq-ns", noCdq.replace("/dev/nvme0:", "/dev/nvme0n1:")
                + "; the RFC may offer it on the controller node /dev/nvmeX only");
        fails(steps, "cdq-watch", noCdq);
        fails(steps, "cdq-read", "nvme-lm: /dev/nvme0: CDQ 1 belongs to no process here; this device cannot hand CDQs"
                + " from one process to another (use 'nvme-lm lm cdq-watch', which creates, reads and deletes in one process)");
        // No HMLM in QEMU's controller: its NVMe status through the passthrough ioctl's return value
        String badOpcode = "NVMe status: Invalid Command Opcode: A reserved coded value or an unsupported value in the command opcode field(0x4001)";
        for (String s : List.of("delete-cdq", "track-send", "migration-send", "migration-recv")) fails(steps, s, badOpcode);
        String badField = "NVMe status: Invalid Field in Command: A reserved coded value or an unsupported value in a defined field(0x4002)";
        for (String s : List.of("set-cdq", "get-cdq")) fails(steps, s, badField);

        // The image on the host holds what the guest wrote, and the seed is gone
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "r")) {
            assertThat(read(f, 100, data.length)).as("LBA 100-107 written through /dev/nvme0n1").isEqualTo(data);
            byte[] pattern = new byte[LBA_BYTES];
            Arrays.fill(pattern, (byte) 0xa5);
            assertThat(read(f, 200, LBA_BYTES)).as("LBA 200 written through /dev/nvme0").isEqualTo(pattern);
            assertThat(read(f, 1000, seed.length)).as("LBA 1000 after Format NVM").isEqualTo(new byte[seed.length]);
        }
    }

    private static void ok(Map<String, Step> steps, String name) {
        Step s = steps.get(name);
        assertThat(s).as("step %s ran", name).isNotNull();
        assertThat(s.rc()).as("%s exit status; stderr %s", name, s.err()).isZero();
        assertThat(s.err()).as("%s stderr", name).isEmpty();
    }

    /** A failing command: exit status 1, exactly one line on stderr, nothing on stdout. */
    private static void fails(Map<String, Step> steps, String name, String line) {
        Step s = steps.get(name);
        assertThat(s).as("step %s ran", name).isNotNull();
        assertThat(s.rc()).as("%s exit status", name).isEqualTo(1);
        assertThat(s.err()).as("%s stderr", name).containsExactly(line);
        assertThat(s.out()).as("%s stdout", name).isEmpty();
    }

    /** base initramfs + Java runtime + an overlay with nvme-lm's classes, its jars and the guest script. */
    private static Path initrd(Path work, Map<String, String> guest, byte[] data) throws Exception {
        Path app = work.resolve("app");
        Path opt = Files.createDirectories(app.resolve("opt/nvme-lm/lib"));
        copyTree(ROOT.resolve("target/classes"), app.resolve("opt/nvme-lm/classes"));
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        int jars = 0;
        for (String e : cp.split(File.pathSeparator)) {
            Path p = Path.of(e);
            if (e.endsWith(".jar") && Files.isRegularFile(p) && !p.getFileName().toString().startsWith("surefire")) {
                Files.copy(p, opt.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                jars++;
            }
        }
        assertThat(jars).as("dependency jars on the test classpath %s", cp).isPositive();
        Path dir = Files.createDirectories(app.resolve("guest"));
        Files.copy(ROOT.resolve("scripts/guest/nvme-lm-guest.sh"), dir.resolve("run"));
        Files.setPosixFilePermissions(dir.resolve("run"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.write(dir.resolve("data.bin"), data);
        Path cpio = work.resolve("app.cpio");
        Result packed = run(work, "scripts/guest/overlay.sh", app.toString(), cpio.toString());
        assertThat(packed.rc).as(packed.output).isZero();
        Path initrd = work.resolve("initrd");
        try (var out = Files.newOutputStream(initrd)) {
            for (String part : List.of(guest.get("INITRAMFS"), guest.get("JAVA_OVERLAY"), cpio.toString())) Files.copy(Path.of(part), out);
        }
        return initrd;
    }

    /** A 64 MiB sparse image with 4 KiB of random bytes at LBA 1000; returns them. */
    private static byte[] seededImage(Path image) throws IOException {
        byte[] seed = new byte[8 * LBA_BYTES];
        new Random(1000).nextBytes(seed);
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(64L << 20);
            f.seek(1000L * LBA_BYTES);
            f.write(seed);
        }
        return seed;
    }

    /**
     * Boots the guest and reads its console until QEMU exits (the guest powers off after its
     * script; qemu-run.sh's own timeout bounds a hung guest). Kills QEMU if this thread stops early.
     */
    private static Map<String, Step> boot(Path work, String kernel, Path initrd, Path image, List<String> console) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(ROOT.resolve("scripts/guest/qemu-run.sh").toString(), kernel, initrd.toString(),
                "--nvme", image + ",serial=" + SERIAL, "--timeout", "900")
                .directory(work.toFile()).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Process qemu = pb.start();
        Map<String, Step> steps = new LinkedHashMap<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(qemu.getInputStream(), StandardCharsets.UTF_8))) {
            String name = null;
            List<String> out = new ArrayList<>(), err = new ArrayList<>();
            for (String line; (line = r.readLine()) != null; ) {
                line = line.replace("\r", "");
                console.add(line);
                if (line.startsWith("STEP-BEGIN ")) {
                    name = line.substring(11).strip();
                    out = new ArrayList<>();
                    err = new ArrayList<>();
                } else if (line.startsWith("OUT| ")) out.add(line.substring(5));
                else if (line.startsWith("ERR| ")) err.add(line.substring(5));
                else if (line.startsWith("STEP-END ") && name != null) {
                    Map<String, String> kv = keyValues(line.substring(9).replace(' ', '\n'));
                    steps.put(name, new Step(name, Integer.parseInt(kv.get("rc")), out, err, Long.parseLong(kv.get("ms"))));
                    name = null;
                }
            }
            qemu.waitFor();
        } finally {
            qemu.descendants().forEach(ProcessHandle::destroyForcibly);
            qemu.destroyForcibly();
            qemu.waitFor(10, TimeUnit.SECONDS);
        }
        return steps;
    }

    private record Result(int rc, String output) {}

    /** Runs a project script (stdout and stderr together) to its end. */
    private static Result run(Path work, String script, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(ROOT.resolve(script).toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(work.toFile()).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return new Result(p.waitFor(), out);
        } finally {
            p.destroyForcibly();
        }
    }

    private static Map<String, String> keyValues(String text) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String l : text.split("\n")) {
            int eq = l.indexOf('=');
            if (eq > 0 && l.substring(0, eq).matches("[A-Za-z_]+")) m.put(l.substring(0, eq), l.substring(eq + 1).strip());
        }
        return m;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
    }

    private static byte[] read(RandomAccessFile f, long lba, int length) throws IOException {
        byte[] b = new byte[length];
        f.seek(lba * LBA_BYTES);
        f.readFully(b);
        return b;
    }

    private static String md5(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(b));
    }
}
