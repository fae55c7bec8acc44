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
        Files.writeString(keyFile, Pem.encode("PRIVATE KEY", pkcs8WithPublicKey((java.security.interfaces.ECPrivateKey) key,
                (java.security.interfaces.ECPublicKey) k.getCertificate(name).getPublicKey())));
    }

    /**
     * PKCS#8 of a P-256 key with the public point inside the ECPrivateKey (RFC 5915 publicKey [1]).
     * The JDK's encoding leaves it out, and GnuTLS (libnbd's nbdinfo/nbdcopy, qemu-nbd) then
     * refuses the key with "ASN1 parser: Element was not found"; OpenSSL and the JDK read both.
     */
    static byte[] pkcs8WithPublicKey(java.security.interfaces.ECPrivateKey key, java.security.interfaces.ECPublicKey pub) {
        byte[] point = cat(new byte[]{4}, fixed(pub.getW().getAffineX(), 32), fixed(pub.getW().getAffineY(), 32));
        byte[] ecPrivateKey = der(0x30, der(0x02, new byte[]{1}), der(0x04, fixed(key.getS(), 32)),
                der(0xa1, der(0x03, cat(new byte[]{0}, point))));
        byte[] algorithm = der(0x30, der(0x06, java.util.HexFormat.of().parseHex("2a8648ce3d0201")),     // id-ecPublicKey
                der(0x06, java.util.HexFormat.of().parseHex("2a8648ce3d030107")));                        // prime256v1
        return der(0x30, der(0x02, new byte[]{0}), algorithm, der(0x04, ecPrivateKey));
    }

    private static byte[] fixed(java.math.BigInteger v, int n) {
        byte[] b = v.toByteArray(), out = new byte[n];
        int len = Math.min(b.length, n);
        System.arraycopy(b, b.length - len, out, n - len, len);
        return out;
    }

    private static byte[] cat(byte[]... parts) {
        java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
        for (byte[] p : parts) o.writeBytes(p);
        return o.toByteArray();
    }

    /** One DER TLV (definite length, short or long form). */
    private static byte[] der(int tag, byte[]... content) {
        byte[] c = cat(content);
        byte[] len = c.length < 128 ? new byte[]{(byte) c.length}
                : c.length < 256 ? new byte[]{(byte) 0x81, (byte) c.length} : new byte[]{(byte) 0x82, (byte) (c.length >> 8), (byte) c.length};
        return cat(new byte[]{(byte) tag}, len, c);
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
