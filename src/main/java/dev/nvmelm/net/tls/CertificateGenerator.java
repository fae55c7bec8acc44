package dev.nvmelm.net.tls;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Quick-start certificates ({@code nvme-lm tls gen}): a CA, and a server and a client
 * certificate it signs, as PEM files ca.crt, server.crt, server.key, client.crt, client.key
 * (keys mode 0600). The keys are EC P-256. Signing is done by the JDK's own keytool, so no
 * X.509 code is written here; the CA's private key is not kept, so these files cannot mint
 * further certificates (use your own CA for that; see docs/network.md).
 */
public final class CertificateGenerator {
    private CertificateGenerator() {}

    public static final List<String> FILES = List.of("ca.crt", "server.crt", "server.key", "client.crt", "client.key");

    /**
     * @param serverNames DNS names and IP addresses the server certificate is valid for
     *                    (localhost, 127.0.0.1 and ::1 are always included)
     */
    public static void generate(Path dir, String commonName, List<String> serverNames, int validityDays)
            throws IOException, GeneralSecurityException {
        Files.createDirectories(dir);
        for (String f : FILES) {
            if (Files.exists(dir.resolve(f))) throw new IOException(dir.resolve(f) + " already exists; not overwriting it");
        }
        Path work = Files.createTempDirectory("nvme-lm-tls");
        String pass = HexFormat.of().formatHex(SecureRandom.getInstanceStrong().generateSeed(16));
        try {
            Path ca = work.resolve("ca.p12");
            keytool("-genkeypair", "-keystore", ca.toString(), "-storetype", "PKCS12", "-storepass", pass, "-alias", "ca",
                    "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + commonName + " CA",
                    "-ext", "bc:c", "-ext", "ku:c=keyCertSign,cRLSign", "-validity", String.valueOf(validityDays));
            keytool("-exportcert", "-rfc", "-keystore", ca.toString(), "-storepass", pass, "-alias", "ca",
                    "-file", dir.resolve("ca.crt").toString());
            List<String> san = new ArrayList<>(List.of("dns:localhost", "ip:127.0.0.1", "ip:::1"));
            for (String n : serverNames) san.add((n.matches("[0-9.]+|.*:.*") ? "ip:" : "dns:") + n);
            issue(work, ca, pass, "server", "CN=" + commonName, "serverAuth", String.join(",", san), dir, validityDays);
            issue(work, ca, pass, "client", "CN=" + commonName + " client", "clientAuth", null, dir, validityDays);
        } finally {
            try (var s = Files.list(work)) {
                for (Path p : s.toList()) Files.deleteIfExists(p);
            }
            Files.deleteIfExists(work);
        }
    }

    private static void issue(Path work, Path ca, String pass, String name, String dname, String eku, String san,
                              Path dir, int validityDays) throws IOException, GeneralSecurityException {
        Path ks = work.resolve(name + ".p12");
        Path csr = work.resolve(name + ".csr");
        keytool("-genkeypair", "-keystore", ks.toString(), "-storetype", "PKCS12", "-storepass", pass, "-alias", name,
                "-keyalg", "EC", "-groupname", "secp256r1", "-dname", dname, "-validity", String.valueOf(validityDays));
        keytool("-certreq", "-keystore", ks.toString(), "-storepass", pass, "-alias", name, "-file", csr.toString());
        List<String> gen = new ArrayList<>(List.of("-gencert", "-rfc", "-keystore", ca.toString(), "-storepass", pass,
                "-alias", "ca", "-infile", csr.toString(), "-outfile", dir.resolve(name + ".crt").toString(),
                "-ext", "eku=" + eku, "-ext", "ku=digitalSignature", "-validity", String.valueOf(validityDays)));
        if (san != null) gen.addAll(List.of("-ext", "san=" + san));
        keytool(gen.toArray(new String[0]));
        KeyStore k = KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(ks)) {
            k.load(in, pass.toCharArray());
        }
        PrivateKey key = (PrivateKey) k.getKey(name, pass.toCharArray());
        Path keyFile = dir.resolve(name + ".key");
        Files.createFile(keyFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(keyFile, Pem.encode("PRIVATE KEY", key.getEncoded()));
    }

    private static void keytool(String... args) throws IOException {
        Path tool = Path.of(System.getProperty("java.home"), "bin", "keytool");
        List<String> cmd = new ArrayList<>(List.of(tool.toString(), "-noprompt"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("keytool " + args[0] + " timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running keytool");
        }
        if (p.exitValue() != 0) throw new IOException("keytool " + args[0] + " failed: " + out.strip());
    }
}
