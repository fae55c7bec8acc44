package dev.nvmelm.net;

import dev.nvmelm.bench.FaultProxy;

import org.junit.jupiter.api.Test;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The proxy itself must be trustworthy before other tests rely on it. */
class FaultProxyTest {

    @Test
    void forwardsThenCutsThenRecovers() throws Exception {
        try (ServerSocket echo = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                while (!echo.isClosed()) {
                    try {
                        Socket s = echo.accept();
                        Thread.ofVirtual().start(() -> {
                            try (s) {
                                s.getInputStream().transferTo(s.getOutputStream());
                            } catch (IOException ignored) {
                                // peer went away
                            }
                        });
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            try (FaultProxy proxy = new FaultProxy(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), echo.getLocalPort()))) {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), proxy.port())) {
                    s.setSoTimeout(2000);
                    roundTrip(s, 7);
                    proxy.stall();
                    s.getOutputStream().write(8);
                    assertThatThrownBy(() -> s.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);
                    proxy.unstall();
                    assertThat(s.getInputStream().read()).isEqualTo(8);
                    proxy.cut();
                    assertThatThrownBy(() -> roundTrip(s, 9)).isInstanceOf(IOException.class);
                }
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), proxy.port())) {
                    s.setSoTimeout(2000);
                    assertThatThrownBy(() -> roundTrip(s, 10)).isInstanceOf(IOException.class);
                }
                proxy.up();
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), proxy.port())) {
                    s.setSoTimeout(2000);
                    roundTrip(s, 11);
                }
                assertThat(proxy.forwardedBytes()).isPositive();
            }
        }
    }

    private static void roundTrip(Socket s, int b) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(b);
        out.flush();
        int r = new DataInputStream(s.getInputStream()).read();
        if (r != b) throw new IOException("echo returned " + r);
    }
}
