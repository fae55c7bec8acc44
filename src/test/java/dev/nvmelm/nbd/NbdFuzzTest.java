package dev.nvmelm.nbd;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/** Jazzer targets for the NBD server and client (docs/testing.md, "Fuzzing"); see the two targets' classes. */
public class NbdFuzzTest {
    @TempDir
    static Path dir;
    private static NbdServerTarget server;
    private static NbdClientTarget client;

    @BeforeAll
    static void start() throws Exception {
        server = new NbdServerTarget(dir);
        client = new NbdClientTarget(dir);
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        client.close();
    }

    /** Handshake, options and requests from a hostile client. */
    @FuzzTest(maxDuration = "2s")
    void server(byte[] input) throws Exception {
        server.runOnce(input);
    }

    /** Option replies and transmission replies from a hostile server. */
    @FuzzTest(maxDuration = "2s")
    void client(byte[] input) throws Exception {
        client.runOnce(input);
    }
}
