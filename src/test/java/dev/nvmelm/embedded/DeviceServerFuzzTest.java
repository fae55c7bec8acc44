package dev.nvmelm.embedded;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/** Jazzer target for {@code device serve}'s socket protocol (docs/testing.md, "Fuzzing"); see {@link DeviceServerTarget}. */
public class DeviceServerFuzzTest {
    @TempDir
    static Path dir;
    private static DeviceServerTarget target;

    @BeforeAll
    static void start() throws Exception {
        target = new DeviceServerTarget(dir);
    }

    @AfterAll
    static void stop() throws Exception {
        target.close();
    }

    @FuzzTest(maxDuration = "2s")
    void session(byte[] input) throws Exception {
        target.runOnce(input);
    }
}
