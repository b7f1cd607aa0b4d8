/*
 * vtls.c: the native TLS client of the virtual apps, shaped like BoringSSL where unpinning
 * scripts meet it (Flutter's libflutter.so, Cronet's libsscronet.so). Loaded by an app's JVM
 * through JNI (com.labvirt.net.NativeTls); the TLS itself is the machine's OpenSSL.
 *
 * OpenSSL's certificate step calls ssl_verify_peer_cert(hs), which BoringSSL has in
 * handshake.cc: the app's custom verify callback when one is set (SSL_set_custom_verify,
 * SSL_CTX_set_custom_verify: Cronet), else ssl_crypto_x509_session_verify_cert_chain (the
 * chain against the roots the app was given, and the host name). Its prologue is written in
 * assembly as clang emits BoringSSL's for x86-64 (the x64 pattern of NVISO's
 * disable-flutter-tls-verification), reading hs->ssl->s3->established_session at the same
 * offsets, so the published pattern finds it where the library is stripped.
 *
 * Two builds (harness/virtual/apps/native.py): libsscronet.so exports the BoringSSL API
 * (SSL_set_custom_verify, SSL_CTX_set_custom_verify, ssl_crypto_x509_session_verify_cert_chain);
 * libflutter.so (-DVTLS_STRIPPED) exports only its JNI entry and is stripped.
 */
#include <jni.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifdef VTLS_STRIPPED
#define VTLS_API __attribute__((visibility("hidden")))
#define VTLS_JNI Java_com_labvirt_net_NativeTls_exchangeStripped
#else
#define VTLS_API __attribute__((visibility("default")))
#define VTLS_JNI Java_com_labvirt_net_NativeTls_exchangeExported
#endif
#define VTLS_HIDDEN __attribute__((visibility("hidden")))

enum ssl_verify_result_t { ssl_verify_ok = 0, ssl_verify_invalid = 1, ssl_verify_retry = 2 };
enum { MODE_BORINGSSL = 0, MODE_CRONET = 1, MODE_FLUTTER = 2 };
#define SSL_AD_UNKNOWN_CA_ALERT 48
#define MAX_RESPONSE (4 * 1024 * 1024)

struct vtls_ssl;
typedef enum ssl_verify_result_t (*vtls_verify_cb)(struct vtls_ssl *ssl, uint8_t *out_alert);

/* BoringSSL's objects as far as ssl_verify_peer_cert reads them (x86-64 offsets). */
struct vtls_session {
    X509 *leaf;
    STACK_OF(X509) *chain;
};
struct vtls_s3 {
    char reserved[0x228];
    struct vtls_session *established_session;  /* NULL on a first handshake */
};
struct vtls_ctx {
    vtls_verify_cb custom_verify_callback;
    int verify_mode;
    X509_STORE *roots;
};
struct vtls_ssl {
    char reserved[0x30];
    struct vtls_s3 *s3;
    struct vtls_ctx *ctx;
    vtls_verify_cb custom_verify_callback;  /* ssl->config */
    int verify_mode;
    const char *host;
    struct vtls_session *pending;  /* the peer's chain, while the handshake verifies it */
    char error[256];
};
struct vtls_handshake {
    struct vtls_ssl *ssl;
    struct vtls_session *new_session;
};

VTLS_API void SSL_CTX_set_custom_verify(struct vtls_ctx *ctx, int mode, vtls_verify_cb callback) {
    ctx->verify_mode = mode;
    ctx->custom_verify_callback = callback;
}

VTLS_API void SSL_set_custom_verify(struct vtls_ssl *ssl, int mode, vtls_verify_cb callback) {
    ssl->verify_mode = mode;
    ssl->custom_verify_callback = callback;
}

/* The chain against the roots, for the host name: 1 when it verifies. */
static int verify_chain(struct vtls_ssl *ssl, struct vtls_session *session) {
    X509_STORE_CTX *store = X509_STORE_CTX_new();
    int ok = 0;
    if (store != NULL && X509_STORE_CTX_init(store, ssl->ctx->roots, session->leaf, session->chain) == 1) {
        X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(store), ssl->host, 0);
        ok = X509_verify_cert(store) == 1;
        if (!ok) {
            snprintf(ssl->error, sizeof ssl->error, "%s",
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)));
        }
    }
    X509_STORE_CTX_free(store);
    return ok;
}

__attribute__((noinline)) VTLS_API int ssl_crypto_x509_session_verify_cert_chain(
        struct vtls_session *session, struct vtls_handshake *hs, uint8_t *out_alert) {
    if (verify_chain(hs->ssl, session)) return 1;
    *out_alert = SSL_AD_UNKNOWN_CA_ALERT;
    return 0;
}

/* What follows ssl_verify_peer_cert's prologue. */
VTLS_HIDDEN int vtls_verify_peer_cert_body(struct vtls_handshake *hs) {
    struct vtls_ssl *ssl = hs->ssl;
    uint8_t alert = 0;
    if (ssl->custom_verify_callback != NULL) return ssl->custom_verify_callback(ssl, &alert);
    return ssl_crypto_x509_session_verify_cert_chain(hs->new_session, hs, &alert) ? ssl_verify_ok
                                                                                 : ssl_verify_invalid;
}

VTLS_HIDDEN int ssl_verify_peer_cert(struct vtls_handshake *hs);
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".globl ssl_verify_peer_cert\n"
    ".hidden ssl_verify_peer_cert\n"
    ".type ssl_verify_peer_cert, @function\n"
    "ssl_verify_peer_cert:\n"
    "  push %rbp\n"
    "  push %r15\n"
    "  push %r14\n"
    "  push %r13\n"
    "  push %r12\n"
    "  push %rbx\n"
    "  sub $0x18, %rsp\n"
    "  mov %rdi, %r15\n"            /* hs */
    "  mov (%rdi), %rbx\n"          /* hs->ssl */
    "  mov 0x30(%rbx), %rax\n"      /* ssl->s3 */
    "  mov 0x228(%rax), %r12\n"     /* s3->established_session */
    "  test %r12, %r12\n"
    "  je 1f\n"                     /* a first handshake (a renegotiation is verified alike) */
    "1:\n"
    "  mov %r15, %rdi\n"
    "  call vtls_verify_peer_cert_body\n"
    "  add $0x18, %rsp\n"
    "  pop %rbx\n"
    "  pop %r12\n"
    "  pop %r13\n"
    "  pop %r14\n"
    "  pop %r15\n"
    "  pop %rbp\n"
    "  ret\n"
    ".size ssl_verify_peer_cert, .-ssl_verify_peer_cert\n");

/* Cronet's CertVerifier, as the app hands it to SSL_set_custom_verify. */
static enum ssl_verify_result_t cronet_cert_verify(struct vtls_ssl *ssl, uint8_t *out_alert) {
    if (verify_chain(ssl, ssl->pending)) return ssl_verify_ok;
    *out_alert = SSL_AD_UNKNOWN_CA_ALERT;
    return ssl_verify_invalid;
}

/* OpenSSL's certificate step: BoringSSL's ssl_verify_peer_cert decides. */
static int openssl_verify(X509_STORE_CTX *store, void *arg) {
    struct vtls_ssl *ssl = arg;
    struct vtls_session session = {X509_STORE_CTX_get0_cert(store), X509_STORE_CTX_get0_untrusted(store)};
    struct vtls_handshake hs = {ssl, &session};
    ssl->pending = &session;
    int result = ssl_verify_peer_cert(&hs);
    ssl->pending = NULL;
    if (result == ssl_verify_ok) {
        X509_STORE_CTX_set_error(store, X509_V_OK);
        return 1;
    }
    if (ssl->error[0] == '\0') snprintf(ssl->error, sizeof ssl->error, "certificate rejected");
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
}

static X509_STORE *load_roots(const char *pem, size_t len) {
    X509_STORE *roots = X509_STORE_new();
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *cert;
    while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_STORE_add_cert(roots, cert);
        X509_free(cert);
    }
    ERR_clear_error();
    BIO_free(bio);
    return roots;
}

static int connect_to(const char *host, int port, char *error, size_t size) {
    char service[16];
    struct addrinfo hints = {0}, *found = NULL;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &found) != 0 || found == NULL) {
        snprintf(error, size, "Failed host lookup: '%s'", host);
        return -1;
    }
    int fd = socket(found->ai_family, SOCK_STREAM, 0);
    struct timeval timeout = {15, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (fd < 0 || connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
        snprintf(error, size, "Connection refused (address = %s, port = %d)", host, port);
        if (fd >= 0) close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    return fd;
}

/* CONNECT through the proxy; 0 once it answered 200. */
static int tunnel(int fd, const char *target, char *error, size_t size) {
    char request[600], head[4096];
    int n = snprintf(request, sizeof request, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
    if (n < 0 || (size_t)n >= sizeof request || send(fd, request, (size_t)n, 0) != n) {
        snprintf(error, size, "proxy CONNECT failed");
        return -1;
    }
    size_t got = 0;
    while (got < sizeof head - 1) {
        ssize_t r = recv(fd, head + got, 1, 0);
        if (r <= 0) break;
        got++;
        head[got] = '\0';
        if (got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0) break;
    }
    head[got] = '\0';
    if (strncmp(head, "HTTP/1.1 200", 12) != 0 && strncmp(head, "HTTP/1.0 200", 12) != 0) {
        snprintf(error, size, "Unexpected response code for CONNECT: %.60s", head);
        return -1;
    }
    return 0;
}

static void throw_io(JNIEnv *env, const char *message) {
    jclass io = (*env)->FindClass(env, "java/io/IOException");
    if (io != NULL) (*env)->ThrowNew(env, io, message);
}

/*
 * byte[] exchange(String connectHost, int connectPort, String tunnelTarget (or null), String host,
 *                 byte[] request, byte[] rootsPem, int mode): the whole response, or IOException.
 */
JNIEXPORT jbyteArray JNICALL VTLS_JNI(JNIEnv *env, jclass klass, jstring jConnectHost, jint connectPort,
                                      jstring jTunnel, jstring jHost, jbyteArray jRequest, jbyteArray jRoots,
                                      jint mode) {
    (void)klass;
    char error[400] = "";
    jbyteArray out = NULL;
    const char *connectHost = (*env)->GetStringUTFChars(env, jConnectHost, NULL);
    const char *host = (*env)->GetStringUTFChars(env, jHost, NULL);
    const char *target = jTunnel == NULL ? NULL : (*env)->GetStringUTFChars(env, jTunnel, NULL);
    jsize requestLen = (*env)->GetArrayLength(env, jRequest);
    jsize rootsLen = (*env)->GetArrayLength(env, jRoots);
    jbyte *request = (*env)->GetByteArrayElements(env, jRequest, NULL);
    jbyte *rootsPem = (*env)->GetByteArrayElements(env, jRoots, NULL);

    struct vtls_s3 *s3 = calloc(1, sizeof *s3);
    struct vtls_ctx ctx = {NULL, 0, load_roots((const char *)rootsPem, (size_t)rootsLen)};
    struct vtls_ssl *vssl = calloc(1, sizeof *vssl);
    vssl->s3 = s3;
    vssl->ctx = &ctx;
    vssl->host = host;
    vssl->custom_verify_callback = ctx.custom_verify_callback;
    if (mode == MODE_CRONET) SSL_set_custom_verify(vssl, SSL_VERIFY_PEER, cronet_cert_verify);

    SSL_CTX *sslctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    unsigned char *body = NULL;
    int fd = connect_to(connectHost, connectPort, error, sizeof error);
    if (fd >= 0 && (target == NULL || tunnel(fd, target, error, sizeof error) == 0)) {
        SSL_CTX_set_verify(sslctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_cert_verify_callback(sslctx, openssl_verify, vssl);
        ssl = SSL_new(sslctx);
        SSL_set_fd(ssl, fd);
        SSL_set_tlsext_host_name(ssl, host);
        if (SSL_connect(ssl) != 1) {
            if (mode == MODE_FLUTTER) {
                snprintf(error, sizeof error, "HandshakeException: Handshake error in client (OS Error: "
                         "CERTIFICATE_VERIFY_FAILED: %s(handshake.cc:393))",
                         vssl->error[0] ? vssl->error : "handshake failed");
            } else {
                snprintf(error, sizeof error, "net::ERR_CERT_AUTHORITY_INVALID (%s)",
                         vssl->error[0] ? vssl->error : "handshake failed");
            }
        } else if (SSL_write(ssl, request, requestLen) != requestLen) {
            snprintf(error, sizeof error, "net::ERR_CONNECTION_RESET");
        } else {
            size_t len = 0, cap = 16384;
            body = malloc(cap);
            int r;
            while ((r = SSL_read(ssl, body + len, (int)(cap - len))) > 0) {
                len += (size_t)r;
                if (len == cap) {
                    if (cap >= MAX_RESPONSE) break;
                    cap *= 2;
                    body = realloc(body, cap);
                }
            }
            out = (*env)->NewByteArray(env, (jsize)len);
            if (out != NULL) (*env)->SetByteArrayRegion(env, out, 0, (jsize)len, (const jbyte *)body);
        }
    }
    free(body);
    if (ssl != NULL) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    if (fd >= 0) close(fd);
    SSL_CTX_free(sslctx);
    X509_STORE_free(ctx.roots);
    free(vssl);
    free(s3);
    ERR_clear_error();
    (*env)->ReleaseByteArrayElements(env, jRequest, request, JNI_ABORT);
    (*env)->ReleaseByteArrayElements(env, jRoots, rootsPem, JNI_ABORT);
    (*env)->ReleaseStringUTFChars(env, jConnectHost, connectHost);
    (*env)->ReleaseStringUTFChars(env, jHost, host);
    if (target != NULL) (*env)->ReleaseStringUTFChars(env, jTunnel, target);
    if (out == NULL && !(*env)->ExceptionCheck(env)) throw_io(env, error[0] ? error : "native TLS failed");
    return out;
}
