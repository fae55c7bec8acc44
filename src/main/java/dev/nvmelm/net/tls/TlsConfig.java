package dev.nvmelm.net.tls;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * TLS 1.3 with mutual authentication from PEM files: our certificate and key, and the CA that
 * must have signed the peer's certificate. Both sides verify the other; the client also checks
 * the server's name (SAN) against the address it dialled.
 *
 * <p>{@link #context()} hands out one context per set of files while they are unchanged. A
 * context's session caches are what let a reconnect resume the session (TLS 1.3 PSK, RFC 8446
 * section 2.2) instead of running a full handshake with both certificates checked again; and
 * loading the files (a PKCS12 store, the key wrapped and unwrapped) is itself most of the cost
 * of a reconnect on a loaded machine (docs/network.md, "Reconnects").
 */
public record TlsConfig(Path certFile, Path keyFile, Path caFile) {

    public static final String PROTOCOL = "TLSv1.3";

    /** What a set of files last loaded into, and when they were last changed (a renewed certificate makes a new context). */
    private record Loaded(List<FileStamp> stamp, SSLContext context) {}

    /** One file as last seen: a file replaced by rename has a new key (inode) even at the same size and time. */
    private record FileStamp(java.nio.file.attribute.FileTime modified, long sizeBytes, Object fileKey) {}

    private static final ConcurrentHashMap<TlsConfig, Loaded> LOADED = new ConcurrentHashMap<>();

    /**
     * The context for these files, failing with a one-line reason naming the bad file: the one
     * loaded before while no file has changed since (size and modification time), else a new one.
     */
    public SSLContext context() throws IOException {
        List<FileStamp> stamp = new java.util.ArrayList<>();
        for (Path p : List.of(certFile, keyFile, caFile)) {
            if (!Files.isReadable(p)) throw new IOException("TLS file " + p + " is missing or unreadable");
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            stamp.add(new FileStamp(a.lastModifiedTime(), a.size(), a.fileKey()));
        }
        Loaded known = LOADED.get(this);
        if (known != null && known.stamp().equals(stamp)) return known.context();
        SSLContext fresh = load();
        LOADED.put(this, new Loaded(List.copyOf(stamp), fresh));
        return fresh;
    }

    private SSLContext load() throws IOException {
        try {
            List<X509Certificate> chain = Pem.readCertificates(certFile);
            PrivateKey key = Pem.readPrivateKey(keyFile);
            char[] pw = new char[0];
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("self", key, pw, chain.toArray(new X509Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pw);
            KeyStore ts = KeyStore.getInstance("PKCS12");
            ts.load(null, null);
            int i = 0;
            for (X509Certificate ca : Pem.readCertificates(caFile)) ts.setCertificateEntry("ca" + i++, ca);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ts);
            SSLContext ctx = SSLContext.getInstance(PROTOCOL);
            ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot load TLS material (" + certFile + ", " + keyFile + ", " + caFile + "): " + e.getMessage(), e);
        }
    }

    /** Server side: TLS 1.3 only, a client certificate is required. */
    public static SSLParameters serverParameters(SSLContext ctx) {
        SSLParameters p = ctx.getDefaultSSLParameters();
        p.setProtocols(new String[]{PROTOCOL});
        p.setNeedClientAuth(true);
        return p;
    }

    /** Client side: TLS 1.3 only, and the server's certificate must name the host we dialled. */
    public static SSLParameters clientParameters(SSLContext ctx) {
        SSLParameters p = ctx.getDefaultSSLParameters();
        p.setProtocols(new String[]{PROTOCOL});
        p.setEndpointIdentificationAlgorithm("HTTPS");
        return p;
    }
}
