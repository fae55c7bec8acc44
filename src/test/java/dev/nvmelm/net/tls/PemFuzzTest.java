package dev.nvmelm.net.tls;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;

import static dev.nvmelm.fuzz.Fuzz.check;
import static dev.nvmelm.fuzz.Fuzz.declared;

/**
 * PEM loading for the agents' and NBD's TLS material (docs/network.md): a file of any bytes
 * gives certificates or a key, or an IOException / GeneralSecurityException that names the
 * problem; never an IllegalArgumentException out of a Base64 decoder or a parser's runtime error.
 */
public class PemFuzzTest {
    private static Path dir;
    private static Path file;

    @BeforeAll
    static void createFile() throws IOException {
        dir = Files.createTempDirectory("nvme-lm-pem-fuzz");
        file = dir.resolve("material.pem");
    }

    @AfterAll
    static void removeFile() throws IOException {
        Files.deleteIfExists(file);
        Files.deleteIfExists(dir);
    }

    @FuzzTest(maxDuration = "2s")
    void load(byte[] input) throws Exception {
        loadOnce(file, input);
    }

    public static void loadOnce(Path file, byte[] input) throws Exception {
        Files.write(file, input);
        declared(() -> check(!Pem.readCertificates(file).isEmpty(), "no certificate and no error"), IOException.class, GeneralSecurityException.class);
        declared(() -> check(Pem.readPrivateKey(file) != null, "no key and no error"), IOException.class, GeneralSecurityException.class);
    }
}
