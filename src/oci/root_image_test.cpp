// The root image's cache key: the overlay found in mountinfo, and what may key an image.
#include "oci/root_image.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "oci/settings.hpp"

namespace moat::oci {
namespace {

constexpr const char* k_mountinfo =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "90 22 0:50 / /var/lib/c/overlay/abc/merged rw,relatime - overlay overlay "
    "rw,lowerdir=/l/2:/l/1,upperdir=/u/abc/diff,workdir=/u/abc/work\n"
    "91 22 0:51 / /with\\040space rw - overlay overlay rw,lowerdir=/l\\0543,upperdir=/u2,workdir=/w2\n"
    "92 22 0:52 / /tmp/plain rw - tmpfs tmpfs rw\n";

TEST(OciRootImage, FindsTheOverlayMountedAtTheRoot)
{
    auto o = overlay_at(k_mountinfo, "/var/lib/c/overlay/abc/merged");
    ASSERT_TRUE(o);
    EXPECT_EQ(o->lower, "/l/2:/l/1");
    EXPECT_EQ(o->upper, "/u/abc/diff");
    auto escaped = overlay_at(k_mountinfo, "/with space");
    ASSERT_TRUE(escaped);
    EXPECT_EQ(escaped->lower, "/l,3");  // mountinfo's \054 is a comma inside the option
    EXPECT_FALSE(overlay_at(k_mountinfo, "/tmp/plain"));  // not an overlay: no cache
    EXPECT_FALSE(overlay_at(k_mountinfo, "/var/lib/c/overlay/abc"));
    EXPECT_FALSE(overlay_at("garbage\n - \n1 2 3\n", "/"));
}

TEST(OciRootImage, KeysByLayersAndOnlyByEmptyUpperLayers)
{
    const auto upper = std::filesystem::temp_directory_path() / ("moat-upper-" + std::to_string(::getpid()));
    std::filesystem::create_directories(upper / "etc");
    std::ofstream(upper / "etc/hostname").close();  // an engine's mount point: empty
    const Overlay o{"/l/2:/l/1", upper.string()};
    auto a = cache_key(o);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->size(), 64u);
    EXPECT_EQ(cache_key(o), a);  // the same layers and names: the same image
    EXPECT_NE(cache_key(Overlay{"/l/3:/l/1", upper.string()}), a);
    std::filesystem::create_directories(upper / "run");
    EXPECT_NE(cache_key(o), a);  // another name in the upper layer
    std::ofstream(upper / "run/.containerenv") << "content";
    EXPECT_FALSE(cache_key(o));  // content in the upper layer: made afresh, never cached
    std::filesystem::remove_all(upper);
}

// The cache keeps the most recently used images within its size; never the one just made.
TEST(OciRootImage, TheCacheDropsTheLeastRecentlyUsed)
{
    char dir[] = "/tmp/oci-cache-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string cache = dir;
    const auto now = std::filesystem::file_time_type::clock::now();
    auto image = [&](const char* name, int age_s, std::size_t bytes) {
        const std::string p = cache + "/" + name;
        std::ofstream(p) << std::string(bytes, 'x');
        std::filesystem::last_write_time(p, now - std::chrono::seconds(age_s));
        return p;
    };
    image("old.erofs", 300, 1000);
    image("mid.erofs", 200, 1000);
    image("new.erofs", 100, 1000);
    const std::string kept = image("kept.erofs", 400, 1000);  // the oldest, but just made
    image("other.txt", 500, 5000);                         // not an image: never counted or removed
    trim_cache(cache, 2500, kept);
    EXPECT_FALSE(std::filesystem::exists(cache + "/old.erofs"));
    EXPECT_FALSE(std::filesystem::exists(cache + "/mid.erofs"));
    EXPECT_TRUE(std::filesystem::exists(cache + "/new.erofs"));
    EXPECT_TRUE(std::filesystem::exists(kept));
    EXPECT_TRUE(std::filesystem::exists(cache + "/other.txt"));
    trim_cache(cache, 0, kept);
    EXPECT_FALSE(std::filesystem::exists(cache + "/new.erofs"));
    EXPECT_TRUE(std::filesystem::exists(kept));
    trim_cache(cache + "/nosuch", 0, kept);  // no cache yet: nothing to do
    std::filesystem::remove_all(cache);
}

TEST(OciSettings, KeysAndTheirErrors)
{
    Settings d;
    d.kernel = "/k";
    auto s = parse_settings("kernel = \"/boot/vmlinuz\"\nmemory = \"512M\"\nverbose = true\n", "oci.toml", d);
    ASSERT_TRUE(s) << describe(s.error());
    EXPECT_EQ(s->kernel, "/boot/vmlinuz");
    EXPECT_EQ(s->memory, 512ull << 20);
    EXPECT_TRUE(s->verbose);
    auto keep = parse_settings("", "oci.toml", d);
    ASSERT_TRUE(keep);
    EXPECT_EQ(keep->kernel, "/k");
    auto expect_error = [&](const char* text, const char* says) {
        auto r = parse_settings(text, "oci.toml", d);
        ASSERT_FALSE(r) << text;
        EXPECT_NE(describe(r.error()).find(says), std::string::npos) << describe(r.error());
    };
    expect_error("kernal = \"/k\"\n", "unknown key 'kernal'");
    expect_error("kernel = 3\n", "kernel: must be a string");
    expect_error("memory = \"lots\"\n", "memory: 'lots'");
    expect_error("verbose = \"yes\"\n", "verbose: must be true or false");
    expect_error("ready_timeout = 0\n", "ready_timeout: must be 1 to 3600");
    expect_error("cache_max = \"huge\"\n", "cache_max: 'huge'");
    auto c = parse_settings("cache_max = \"64M\"\n", "oci.toml", d);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->cache_max, 64ull << 20);
    EXPECT_EQ(d.cache_max, 1ull << 30);  // the default
    // Where state lives: --root, else oci.toml's state, else runc's like default.
    auto st = parse_settings("state = \"/run/moat-secure\"\n", "oci.toml", d);
    ASSERT_TRUE(st);
    EXPECT_EQ(state_root(std::nullopt, *st), "/run/moat-secure");
    EXPECT_EQ(state_root(std::string("/run/containerd/runc/default"), *st), "/run/containerd/runc/default");
    EXPECT_EQ(state_root(std::nullopt, d), "/run/moat-oci");
    auto t = parse_settings("ready_timeout = 30\n", "oci.toml", d);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->ready_timeout, 30u);
    expect_error("kernel = \n", "oci.toml:1");
    // Found by fuzz_oci_settings: toml++ reached code it marks unreachable (policy/toml.hpp).
    auto odd = parse_settings(std::string_view("\xef\xbb\xb9.\0pr", 7), "oci.toml", d);
    ASSERT_FALSE(odd);
    EXPECT_EQ(describe(odd.error()).rfind("oci.toml:1: ", 0), 0u) << describe(odd.error());
}

}  // namespace
}  // namespace moat::oci
