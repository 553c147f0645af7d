/* provenance.c - checksums (OpenSSL's SHA-256), CPU name, UTC date and command line. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "xai_provenance.h"
#include "xai_status.h"

int xai_sha256_file(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f) return xai_fail("%s: cannot open: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        fclose(f);
        EVP_MD_CTX_free(ctx);
        return xai_fail("%s: SHA-256 unavailable", path);
    }
    unsigned char buffer[1 << 16], digest[32];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, f)) > 0) EVP_DigestUpdate(ctx, buffer, got);
    int bad = ferror(f);
    fclose(f);
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, digest, &len);
    EVP_MD_CTX_free(ctx);
    if (bad) return xai_fail("%s: read error", path);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return XAI_OK;
}

void xai_cpu_name(char *out, size_t size)
{
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon += 2;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(out, size, "%s", colon);
            break;
        }
    }
    fclose(f);
}

void xai_utc_now(char *out, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *xai_command_line(int argc, char **argv)
{
    size_t size = 1;
    for (int i = 0; i < argc; i++) size += strlen(argv[i]) + 3;
    char *out = xai_malloc(size);
    if (!out) return NULL;
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < argc; i++) {
        int quote = strchr(argv[i], ' ') != NULL;
        used += (size_t)snprintf(out + used, size - used, "%s%s%s%s", i ? " " : "", quote ? "'" : "", argv[i],
                                 quote ? "'" : "");
    }
    return out;
}
