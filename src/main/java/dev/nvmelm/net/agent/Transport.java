package dev.nvmelm.net.agent;

import dev.nvmelm.net.tls.TlsConfig;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
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

    public ServerSocket listen(InetSocketAddress address) throws IOException {
        if (address.isUnresolved()) throw new IOException("cannot resolve " + address.getHostString());
        checkInsecure(address.getAddress());
        if (insecure) return new ServerSocket(address.getPort(), 16, address.getAddress());
        SSLContext ctx = tls.context();
        SSLServerSocket s = (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket(address.getPort(), 16, address.getAddress());
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
