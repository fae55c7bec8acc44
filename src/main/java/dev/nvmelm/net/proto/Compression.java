package dev.nvmelm.net.proto;

import com.github.luben.zstd.Zstd;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;

import java.util.Locale;

/**
 * How DATA payloads travel ({@code migrate --compress}): as they are, LZ4 (fast, modest ratio)
 * or zstd level 1 (a better ratio for more CPU). Decompression never produces more than the
 * length the frame announces, itself at most {@link FrameCodec#MAX_DATA_BYTES}: a hostile frame
 * cannot make the receiver allocate or write more than one frame's worth.
 */
public enum Compression {
    NONE(0), LZ4(1), ZSTD(2);

    /** zstd's fastest regular level: the link, not the ratio, is what we are trying to save. */
    static final int ZSTD_LEVEL = 1;

    public final int id;
    /** Looked up once: LZ4Factory.fastestInstance() takes a class-wide lock on every call. */
    private static final net.jpountz.lz4.LZ4Compressor LZ4_COMPRESSOR = LZ4Factory.fastestInstance().fastCompressor();
    private static final net.jpountz.lz4.LZ4SafeDecompressor LZ4_DECOMPRESSOR = LZ4Factory.fastestInstance().safeDecompressor();

    Compression(int id) {
        this.id = id;
    }

    public static Compression ofId(int id) throws ProtocolException {
        for (Compression c : values()) if (c.id == id) return c;
        throw new ProtocolException("unknown compression " + id);
    }

    /** {@code none}, {@code lz4} or {@code zstd}. */
    public static Compression parse(String name) {
        for (Compression c : values()) if (c.name().toLowerCase(Locale.ROOT).equals(name)) return c;
        throw new IllegalArgumentException("'" + name + "' is not none, lz4 or zstd");
    }

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The compressed form of {@code raw}, or null when it would not be smaller (random data: sent as is). */
    public byte[] compress(byte[] raw) {
        byte[] c = switch (this) {
            case NONE -> null;
            case LZ4 -> LZ4_COMPRESSOR.compress(raw);
            case ZSTD -> Zstd.compress(raw, ZSTD_LEVEL);
        };
        return c == null || c.length >= raw.length ? null : c;
    }

    /** Decompresses into exactly {@code rawLength} bytes, or fails as a protocol error. */
    public byte[] decompress(byte[] payload, int rawLength) throws ProtocolException {
        if (rawLength < 0 || rawLength > FrameCodec.MAX_DATA_BYTES) {
            throw new ProtocolException("compressed DATA announces " + rawLength + " bytes, outside 0.." + FrameCodec.MAX_DATA_BYTES);
        }
        byte[] out = new byte[rawLength];
        long n;
        switch (this) {
            case NONE -> throw new ProtocolException("compressed DATA without a compression");
            case LZ4 -> {
                try {
                    n = LZ4_DECOMPRESSOR.decompress(payload, 0, payload.length, out, 0, rawLength);
                } catch (LZ4Exception e) {
                    throw new ProtocolException("LZ4 DATA does not decompress into " + rawLength + " bytes: " + e.getMessage());
                }
            }
            case ZSTD -> {
                try {
                    n = Zstd.decompressByteArray(out, 0, rawLength, payload, 0, payload.length);
                } catch (RuntimeException e) {   // ZstdException: output too small, malformed input
                    throw new ProtocolException("zstd DATA does not decompress into " + rawLength + " bytes: " + e.getMessage());
                }
                if (Zstd.isError(n)) throw new ProtocolException("zstd DATA does not decompress into " + rawLength + " bytes: " + Zstd.getErrorName(n));
            }
            default -> throw new IllegalStateException();
        }
        if (n != rawLength) throw new ProtocolException(label() + " DATA decompressed to " + n + " bytes, not the " + rawLength + " announced");
        return out;
    }
}
