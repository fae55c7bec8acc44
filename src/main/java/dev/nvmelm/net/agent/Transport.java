package dev.nvmelm.net.agent;

import dev.nvmelm.net.tls.TlsConfig;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * How the agents reach each other: TLS 1.3 with mutual authentication, or — only with an explicit
 * insecure flag, and only on loopback — plain TCP.
 */
public record Transport(TlsConfig tls, boolean insecure) {

    public Transport {
        if ((tls == null) == !insecure) throw new IllegalArgumentException("give TLS files or --insecure, not both and not neither");
    }

    /** {@code HOST:PORT} (IPv6 in brackets). */
    public static InetSocketAddress parse(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0) throw new IllegalArgumentException("'" + hostPort + "' is not HOST:PORT");
        String host = hostPort.substring(0, colon).replace("[", "").replace("]", "");
        int port;
        try {
            port = Integer.parseInt(hostPort.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + hostPort.substring(colon + 1) + "' is not a port");
        }
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port " + port + " is out of range");
        return new InetSocketAddress(host, port);
    }

    private void checkInsecure(InetAddress a) throws IOException {
        if (insecure && !a.isLoopbackAddress()) {
            throw new IOException("--insecure sends a tenant's disk in the clear; it is allowed only on loopback, not " + a.getHostAddress()
                    + " (use --tls-cert/--tls-key/--tls-ca; nvme-lm tls gen makes a set)");
        }
    }

    /**
     * A plain TCP listener in either mode: TLS is layered over each accepted socket by
     * {@link #serverSide}, so the agent runs (and bounds) the handshake itself and can cut a slow
     * one by closing the TCP socket underneath.
     */
    public ServerSocket listen(InetSocketAddress address) throws IOException {
        if (address.isUnresolved()) throw new IOException("cannot resolve " + address.getHostString());
        checkInsecure(address.getAddress());
        if (!insecure) tls.context();   // bad TLS files fail here, at startup, in one line
        return new ServerSocket(address.getPort(), 64, address.getAddress());
    }

    /** The context every accepted connection's TLS uses (null with --insecure). */
    public SSLContext serverContext() throws IOException {
        return insecure ? null : tls.context();
    }

    /** The server's side of an accepted socket: as is with --insecure, else TLS 1.3 demanding a client certificate (handshake not yet run). */
    public static Socket serverSide(SSLContext ctx, Socket plain) throws IOException {
        if (ctx == null) return plain;
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, plain.getInetAddress().getHostAddress(), plain.getPort(), true);
        s.setUseClientMode(false);
        s.setSSLParameters(TlsConfig.serverParameters(ctx));
        return s;
    }

    public Socket connect(InetSocketAddress address, int timeoutMs) throws IOException {
        if (address.isUnresolved()) throw new IOException("cannot resolve " + address.getHostString());
        checkInsecure(address.getAddress());
        Socket plain = new Socket();
        plain.connect(address, timeoutMs);
        plain.setTcpNoDelay(true);
        if (insecure) return plain;
        SSLContext ctx = tls.context();
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, address.getHostString(), address.getPort(), true);
        s.setSSLParameters(TlsConfig.clientParameters(ctx));
        s.setSoTimeout(timeoutMs);
        try {
            s.startHandshake();
        } catch (javax.net.ssl.SSLException e) {
            s.close();
            if (e.getCause() instanceof java.io.EOFException || String.valueOf(e.getMessage()).contains("terminated the handshake")) {
                // closed before any verdict on certificates (an agent restarting behind a proxy): worth retrying
                throw new IOException("TLS handshake with " + address.getHostString() + ":" + address.getPort() + " cut short: " + e.getMessage(), e);
            }
            String why = String.valueOf(e.getMessage()).replaceAll("(\\w+\\.)+\\w*(Exception|Error): ", "");
            throw new HandshakeException("TLS handshake with " + address.getHostString() + ":" + address.getPort() + " failed (" + why
                    + "); both sides need certificates signed by the CA the other side names with --tls-ca");
        }
        s.setSoTimeout(0);
        return s;
    }

    /** The peer's certificate (or ours) was not accepted: retrying cannot help. */
    public static final class HandshakeException extends IOException {
        HandshakeException(String message) {
            super(message);
        }
    }
}
