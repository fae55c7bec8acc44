package dev.nvmelm.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nvmelm.cli.NumbersFuzzTest;
import dev.nvmelm.embedded.DeviceServerTarget;
import dev.nvmelm.host.cdq.CdqRingFuzzTest;
import dev.nvmelm.host.sim.SimMessageFuzzTest;
import dev.nvmelm.nbd.NbdClientTarget;
import dev.nvmelm.nbd.NbdServerTarget;
import dev.nvmelm.net.proto.FrameCodecFuzzTest;
import dev.nvmelm.net.tls.PemFuzzTest;
import dev.nvmelm.spec.SpecFuzzTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Every target behind one fuzz test: the first input byte picks the target, the rest is its
 * input. libFuzzer runs once per JVM, so this is how one short fuzzing run inside {@code mvn test}
 * ({@link FuzzShortRunTest}) reaches all of them; {@code scripts/fuzz.sh} fuzzes each on its own.
 */
public class AllTargetsFuzzTest {
    @TempDir
    static Path dir;
    private static NbdServerTarget nbdServer;
    private static NbdClientTarget nbdClient;
    private static DeviceServerTarget deviceServer;
    private static Path pemFile;

    /** A target's run over its own input. */
    interface Target {
        void run(byte[] input) throws Exception;
    }

    /** The targets in dispatch order: adding one at the end keeps the meaning of committed inputs. */
    static final List<Target> TARGETS = List.of(
            SpecFuzzTest::sqeCommandsOnce, SpecFuzzTest::cqeOnce, SpecFuzzTest::controllerStateOnce, SpecFuzzTest::identifyOnce,
            SpecFuzzTest::dataStructuresOnce, SpecFuzzTest::prpOnce, CdqRingFuzzTest::ringOnce, SimMessageFuzzTest::decodeOnce,
            FrameCodecFuzzTest::framesOnce, FrameCodecFuzzTest::compressedRoundTripOnce, in -> PemFuzzTest.loadOnce(pemFile, in),
            NumbersFuzzTest::parseOnce, in -> nbdServer.runOnce(in), in -> nbdClient.runOnce(in), in -> deviceServer.runOnce(in));

    @BeforeAll
    static void start() throws Exception {
        nbdServer = new NbdServerTarget(Files.createDirectory(dir.resolve("nbd-server")));
        nbdClient = new NbdClientTarget(Files.createDirectory(dir.resolve("nbd-client")));
        deviceServer = new DeviceServerTarget(Files.createDirectory(dir.resolve("device")));
        pemFile = dir.resolve("material.pem");
    }

    @AfterAll
    static void stop() throws Exception {
        nbdServer.close();
        nbdClient.close();
        deviceServer.close();
    }

    @FuzzTest(maxDuration = "10s")
    void all(byte[] input) throws Exception {
        if (input.length == 0) return;
        TARGETS.get((input[0] & 0xff) % TARGETS.size()).run(Arrays.copyOfRange(input, 1, input.length));
    }
}
