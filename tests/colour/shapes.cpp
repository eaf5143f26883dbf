// The generated colour dataset (shapes.hpp): backgrounds filled pixel by pixel, clutter and
// the class's shape drawn with cairo (antialiased), pictures encoded with stb_image_write.
#include "colour/shapes.hpp"

#include <cairo.h>
#include <fmt/core.h>
#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <span>

#include "core/check.hpp"
#include "imgcls/error.hpp"
#include "imgcls/image.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/rng.hpp"

namespace imgcls::shapes {

namespace {

namespace fs = std::filesystem;

enum class Outline { hexagon, diamond, ring, square, cross, triangle, crescent, circle, bar, star };

struct ClassSpec {
  const char* name;
  Outline outline;
  double hue;  // degrees
};

// In label order: sorted by name. Hues 36 degrees apart.
constexpr std::array<ClassSpec, 10> kClasses{{{"azure_hexagon", Outline::hexagon, 216.0},
                                              {"blue_diamond", Outline::diamond, 252.0},
                                              {"cyan_ring", Outline::ring, 180.0},
                                              {"green_square", Outline::square, 144.0},
                                              {"lime_cross", Outline::cross, 108.0},
                                              {"orange_triangle", Outline::triangle, 36.0},
                                              {"pink_crescent", Outline::crescent, 324.0},
                                              {"red_circle", Outline::circle, 0.0},
                                              {"violet_bar", Outline::bar, 288.0},
                                              {"yellow_star", Outline::star, 72.0}}};

constexpr double kHueJitter = 10.0;          // degrees, either way
constexpr double kMaxMutedSaturation = 0.3;  // backgrounds and clutter, before the light
// Backgrounds and clutter are lit warm: green and blue dimmed by these factors, so that the
// channels' means and variances over the dataset differ (about 0.48, 0.44, 0.38), and a
// Normalization that mixes up its channels changes the answers.
constexpr double kWarmGreen = 0.9, kWarmBlue = 0.75;
constexpr double kMinShapeSaturation = 0.6;
constexpr int kPixelNoise = 4;  // levels of 255, either way, after drawing

// CIFAR-10's binary format (imgcls/data.hpp describes it).
constexpr std::int64_t kCifarSide = 32;
constexpr int kCifarTrainBatches = 5;

struct Rgb {
  double r = 0, g = 0, b = 0;
};

// hue in degrees, saturation and value in [0, 1].
Rgb from_hsv(double hue, double saturation, double value) {
  hue = std::fmod(std::fmod(hue, 360.0) + 360.0, 360.0) / 60.0;
  const double chroma = value * saturation;
  const double x = chroma * (1.0 - std::abs(std::fmod(hue, 2.0) - 1.0));
  const double m = value - chroma;
  const int sector = static_cast<int>(hue);
  const std::array<Rgb, 6> sectors{{{chroma, x, 0},
                                    {x, chroma, 0},
                                    {0, chroma, x},
                                    {0, x, chroma},
                                    {x, 0, chroma},
                                    {chroma, 0, x}}};
  const Rgb c = sectors[static_cast<std::size_t>(std::min(sector, 5))];
  return {c.r + m, c.g + m, c.b + m};
}

class Draw {
 public:
  explicit Draw(Rng& rng) : rng_(rng) {}
  double uniform(double low, double high) {
    return static_cast<double>(rng_.uniform(static_cast<float>(low), static_cast<float>(high)));
  }
  std::int64_t integer(std::int64_t low, std::int64_t high) {  // in [low, high]
    return low + static_cast<std::int64_t>(
                     rng_.uniform_index(static_cast<std::uint64_t>(high - low + 1)));
  }
  bool chance(double p) { return uniform(0.0, 1.0) < p; }
  Rgb muted() {
    const Rgb c =
        from_hsv(uniform(0.0, 360.0), uniform(0.0, kMaxMutedSaturation), uniform(0.15, 0.9));
    return {c.r, c.g * kWarmGreen, c.b * kWarmBlue};
  }

 private:
  Rng& rng_;
};

// A background [height, width, 3] of values in [0, 1] (before clutter, which cairo draws).
using Canvas = std::vector<double>;

Rgb mix(const Rgb& a, const Rgb& b, double t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

enum class Background { noise, gradient, stripes, checkerboard, blobs, clutter };
constexpr int kBackgroundKinds = 6;

Canvas fill_background(Background kind, std::int64_t height, std::int64_t width, Draw& draw) {
  Canvas canvas(static_cast<std::size_t>(height * width * 3));
  const auto put = [&](std::int64_t y, std::int64_t x, const Rgb& c) {
    double* p = &canvas[static_cast<std::size_t>((y * width + x) * 3)];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  };
  const Rgb first = draw.muted(), second = draw.muted();
  const double angle = draw.uniform(0.0, std::numbers::pi);
  const double ux = std::cos(angle), uy = std::sin(angle);
  switch (kind) {
    case Background::noise: {
      const double spread = draw.uniform(0.03, 0.12);
      for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x)
          put(y, x,
              {first.r + draw.uniform(-spread, spread), first.g + draw.uniform(-spread, spread),
               first.b + draw.uniform(-spread, spread)});
      break;
    }
    case Background::gradient: {
      const double extent = std::abs(ux) * double(width) + std::abs(uy) * double(height);
      const double lowest = std::min(0.0, ux * double(width)) + std::min(0.0, uy * double(height));
      for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x)
          put(y, x, mix(first, second, (ux * double(x) + uy * double(y) - lowest) / extent));
      break;
    }
    case Background::stripes: {
      const double period = draw.uniform(4.0, 12.0);
      for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x)
          put(y, x,
              std::fmod(std::abs(ux * double(x) + uy * double(y)), period) < period / 2 ? first
                                                                                        : second);
      break;
    }
    case Background::checkerboard: {
      const double cell = draw.uniform(3.0, 10.0);
      for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x) {
          const auto u =
              static_cast<std::int64_t>(std::floor((ux * double(x) + uy * double(y)) / cell));
          const auto v =
              static_cast<std::int64_t>(std::floor((-uy * double(x) + ux * double(y)) / cell));
          put(y, x, (u + v) % 2 == 0 ? first : second);
        }
      break;
    }
    case Background::blobs: {  // a coarse grid of muted colours, interpolated bilinearly
      const std::int64_t cells = draw.integer(3, 6);
      std::vector<Rgb> grid(static_cast<std::size_t>((cells + 1) * (cells + 1)));
      for (Rgb& c : grid) c = draw.muted();
      const auto at = [&](std::int64_t gy, std::int64_t gx) {
        return grid[static_cast<std::size_t>(gy * (cells + 1) + gx)];
      };
      for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x) {
          const double fy = double(y) / double(height) * double(cells);
          const double fx = double(x) / double(width) * double(cells);
          const auto gy = static_cast<std::int64_t>(fy), gx = static_cast<std::int64_t>(fx);
          const double ty = fy - double(gy), tx = fx - double(gx);
          put(y, x,
              mix(mix(at(gy, gx), at(gy, gx + 1), tx), mix(at(gy + 1, gx), at(gy + 1, gx + 1), tx),
                  ty));
        }
      break;
    }
    case Background::clutter:
      for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x) put(y, x, first);
      break;
  }
  return canvas;
}

void set_colour(cairo_t* cr, const Rgb& c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

// Small muted lines, rectangles and ellipses anywhere.
void draw_clutter(cairo_t* cr, std::int64_t height, std::int64_t width, Draw& draw) {
  const double side = double(std::min(height, width));
  for (std::int64_t i = draw.integer(6, 14); i > 0; --i) {
    set_colour(cr, draw.muted());
    const double x = draw.uniform(0.0, double(width)), y = draw.uniform(0.0, double(height));
    const double size = draw.uniform(0.05, 0.2) * side;
    switch (draw.integer(0, 2)) {
      case 0:
        cairo_set_line_width(cr, draw.uniform(1.0, 3.0));
        cairo_move_to(cr, x, y);
        cairo_line_to(cr, x + draw.uniform(-2.0, 2.0) * size, y + draw.uniform(-2.0, 2.0) * size);
        cairo_stroke(cr);
        break;
      case 1:
        cairo_rectangle(cr, x, y, size, draw.uniform(0.3, 1.0) * size);
        cairo_fill(cr);
        break;
      default:
        cairo_save(cr);
        cairo_translate(cr, x, y);
        cairo_scale(cr, size, draw.uniform(0.4, 1.0) * size);
        cairo_arc(cr, 0, 0, 1, 0, 2 * std::numbers::pi);
        cairo_restore(cr);
        cairo_set_line_width(cr, 1.5);
        cairo_stroke(cr);
        break;
    }
  }
}

// The class outline about the origin, of "radius" r (areas of the same order).
void outline_path(cairo_t* cr, Outline outline, double r) {
  const auto polygon = [cr](const std::vector<std::pair<double, double>>& points) {
    cairo_move_to(cr, points[0].first, points[0].second);
    for (std::size_t i = 1; i < points.size(); ++i)
      cairo_line_to(cr, points[i].first, points[i].second);
    cairo_close_path(cr);
  };
  const auto on_circle = [](double radius, double degrees) {
    const double a = degrees * std::numbers::pi / 180.0;
    return std::pair{radius * std::cos(a), radius * std::sin(a)};
  };
  switch (outline) {
    case Outline::circle:
      cairo_arc(cr, 0, 0, r, 0, 2 * std::numbers::pi);
      break;
    case Outline::ring:  // filled with the even-odd rule: the inner circle is a hole
      cairo_arc(cr, 0, 0, r, 0, 2 * std::numbers::pi);
      cairo_new_sub_path(cr);
      cairo_arc(cr, 0, 0, 0.55 * r, 0, 2 * std::numbers::pi);
      break;
    case Outline::square:
      cairo_rectangle(cr, -0.85 * r, -0.85 * r, 1.7 * r, 1.7 * r);
      break;
    case Outline::triangle:
      polygon({on_circle(1.15 * r, -90), on_circle(1.15 * r, 30), on_circle(1.15 * r, 150)});
      break;
    case Outline::star: {
      std::vector<std::pair<double, double>> points;
      for (int i = 0; i < 10; ++i)
        points.push_back(on_circle(i % 2 == 0 ? 1.2 * r : 0.5 * r, -90 + 36 * i));
      polygon(points);
      break;
    }
    case Outline::hexagon: {
      std::vector<std::pair<double, double>> points;
      for (int i = 0; i < 6; ++i) points.push_back(on_circle(1.05 * r, 60 * i));
      polygon(points);
      break;
    }
    case Outline::diamond:  // a rhombus, longer than wide
      polygon({{0, -1.2 * r}, {0.65 * r, 0}, {0, 1.2 * r}, {-0.65 * r, 0}});
      break;
    case Outline::bar:
      cairo_rectangle(cr, -1.1 * r, -0.35 * r, 2.2 * r, 0.7 * r);
      break;
    case Outline::crescent: {  // the disc of radius r less a disc of 0.85 r, 0.5 r to its right
      const double inner = 0.85 * r, offset = 0.5 * r;
      // Where the two circles cross: (x, +-y).
      const double x = (r * r - inner * inner + offset * offset) / (2 * offset);
      const double y = std::sqrt(r * r - x * x);
      const double outer_angle = std::atan2(y, x), inner_angle = std::atan2(y, x - offset);
      cairo_arc(cr, 0, 0, r, outer_angle, 2 * std::numbers::pi - outer_angle);
      cairo_arc_negative(cr, offset, 0, inner, -inner_angle, inner_angle);
      cairo_close_path(cr);
      break;
    }
    case Outline::cross: {
      const double arm = r, half = 0.33 * r;
      polygon({{-half, -arm},
               {half, -arm},
               {half, -half},
               {arm, -half},
               {arm, half},
               {half, half},
               {half, arm},
               {-half, arm},
               {-half, half},
               {-arm, half},
               {-arm, -half},
               {-half, -half}});
      break;
    }
  }
}

std::uint8_t to_byte(double value) {
  return static_cast<std::uint8_t>(std::clamp(std::lround(value * 255.0), 0L, 255L));
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw InputError(path.string(), "cannot write the file");
}

void append_to_string(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                             static_cast<std::size_t>(size));
}

std::string encode_png(const Picture& picture) {
  std::string bytes;
  const int w = static_cast<int>(picture.width), h = static_cast<int>(picture.height);
  const int ok =
      stbi_write_png_to_func(append_to_string, &bytes, w, h, 3, picture.rgb.data(), w * 3);
  IMGCLS_CHECK(ok != 0 && !bytes.empty(), "stb_image_write could not encode a {}x{} picture", h, w);
  return bytes;
}

void create_folder(const fs::path& folder) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw InputError(folder.string(), "cannot create the folder: " + ec.message());
}

// The splits, 0 train and 1 test: their folder names and sizes.
struct Split {
  const char* name;
  std::int64_t per_class;
};
std::array<Split, 2> splits_of(const ShapesOptions& options) {
  return {{{"train", options.train_per_class}, {"test", options.test_per_class}}};
}

// The stream of one picture: derived from (seed, split, label, index) alone.
std::uint64_t picture_seed(const ShapesOptions& options, int split, int label, std::int64_t index) {
  return derive_seed(options.seed, static_cast<std::uint64_t>(split * 1000 + label),
                     static_cast<std::uint64_t>(index));
}

}  // namespace

const std::vector<std::string>& class_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const ClassSpec& spec : kClasses) list.emplace_back(spec.name);
    return list;
  }();
  return names;
}

Picture draw_picture(const ShapesOptions& options, int split, int label, std::int64_t index) {
  const ClassSpec& spec = kClasses.at(static_cast<std::size_t>(label));
  Rng rng(picture_seed(options, split, label, index));
  Draw draw(rng);
  IMGCLS_CHECK(options.side >= 8, "pictures of side {}: at least 8 px", options.side);
  IMGCLS_CHECK(options.max_side == 0 || options.max_side >= options.side,
               "pictures of sides {} to {}", options.side, options.max_side);
  Picture picture;
  picture.height = options.side;
  picture.width = options.side;
  if (options.max_side > options.side) {
    picture.height = draw.integer(options.side, options.max_side);
    picture.width = draw.integer(options.side, options.max_side);
  }
  const std::int64_t height = picture.height, width = picture.width;
  const auto kind = static_cast<Background>(draw.integer(0, kBackgroundKinds - 1));
  const Canvas canvas = fill_background(kind, height, width, draw);

  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(width),
                                                        static_cast<int>(height));
  cairo_surface_flush(surface);
  unsigned char* data = cairo_image_surface_get_data(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  for (std::int64_t y = 0; y < height; ++y) {
    auto* row = reinterpret_cast<std::uint32_t*>(data + y * stride);
    for (std::int64_t x = 0; x < width; ++x) {
      const double* p = &canvas[static_cast<std::size_t>((y * width + x) * 3)];
      row[x] =
          std::uint32_t{to_byte(p[0])} << 16 | std::uint32_t{to_byte(p[1])} << 8 | to_byte(p[2]);
    }
  }
  cairo_surface_mark_dirty(surface);
  cairo_t* cr = cairo_create(surface);
  if (kind == Background::clutter) draw_clutter(cr, height, width, draw);

  const double side = double(std::min(height, width));
  const double r = draw.uniform(0.2, 0.38) * side;
  const double margin = 0.8 * r;  // a little of the shape may leave the picture
  cairo_translate(cr, draw.uniform(margin, double(width) - margin),
                  draw.uniform(margin, double(height) - margin));
  cairo_rotate(cr, draw.uniform(0.0, 2.0 * std::numbers::pi));
  cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
  outline_path(cr, spec.outline, r);
  set_colour(cr, from_hsv(spec.hue + draw.uniform(-kHueJitter, kHueJitter),
                          draw.uniform(kMinShapeSaturation, 1.0), draw.uniform(0.6, 1.0)));
  cairo_fill(cr);
  cairo_destroy(cr);
  cairo_surface_flush(surface);

  picture.rgb.resize(static_cast<std::size_t>(height * width * 3));
  for (std::int64_t y = 0; y < height; ++y) {
    const auto* row = reinterpret_cast<const std::uint32_t*>(data + y * stride);
    for (std::int64_t x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        const int level = static_cast<int>((row[x] >> (16 - 8 * c)) & 0xFF) +
                          static_cast<int>(draw.integer(-kPixelNoise, kPixelNoise));
        picture.rgb[static_cast<std::size_t>((y * width + x) * 3 + c)] =
            static_cast<std::uint8_t>(std::clamp(level, 0, 255));
      }
  }
  cairo_surface_destroy(surface);
  return picture;
}

std::int64_t write_shapes_folder(const std::string& dir, const ShapesOptions& options) {
  std::int64_t written = 0;
  const std::array<Split, 2> splits = splits_of(options);
  for (int split = 0; split < 2; ++split)
    for (int label = 0; label < static_cast<int>(kClasses.size()); ++label) {
      const fs::path folder = fs::path(dir) / splits[static_cast<std::size_t>(split)].name /
                              kClasses[static_cast<std::size_t>(label)].name;
      create_folder(folder);
      for (std::int64_t i = 0; i < splits[static_cast<std::size_t>(split)].per_class; ++i) {
        write_bytes(folder / fmt::format("{:04d}.png", i),
                    encode_png(draw_picture(options, split, label, i)));
        ++written;
      }
    }
  return written;
}

void write_shapes_cifar10(const std::string& dir, const ShapesOptions& options) {
  IMGCLS_CHECK(options.side == kCifarSide, "CIFAR-10 pictures are {0}x{0}, not {1}x{1}", kCifarSide,
               options.side);
  static_assert(kClasses.size() == 10, "CIFAR-10 files have ten classes");
  create_folder(dir);
  constexpr std::int64_t kPlane = kCifarSide * kCifarSide;
  // The records of split `split`, pictures [first, last) of the split in folder order (class
  // by class, by index): label, then the red, green and blue planes.
  const std::array<Split, 2> splits = splits_of(options);
  const auto records = [&](int split, std::int64_t first, std::int64_t last) {
    const std::int64_t per_class = splits[static_cast<std::size_t>(split)].per_class;
    std::string bytes;
    bytes.reserve(static_cast<std::size_t>((last - first) * (1 + 3 * kPlane)));
    for (std::int64_t n = first; n < last; ++n) {
      const int label = static_cast<int>(n / per_class);
      const std::string png = encode_png(draw_picture(options, split, label, n % per_class));
      const Image decoded = decode_picture(
          std::span(reinterpret_cast<const std::uint8_t*>(png.data()), png.size()), "a picture");
      const Image made =
          resize_picture(with_channels(decoded, 3), kCifarSide, kCifarSide, Preprocessing::stretch);
      bytes += static_cast<char>(label);
      for (std::int64_t c = 0; c < 3; ++c)
        for (std::int64_t p = 0; p < kPlane; ++p)
          bytes += static_cast<char>(
              PixelTensor::level(made.pixels[static_cast<std::size_t>(p * 3 + c)]));
    }
    return bytes;
  };
  const auto count = [&](int split) {
    return splits[static_cast<std::size_t>(split)].per_class * std::int64_t(kClasses.size());
  };
  const std::int64_t train = count(0);
  for (int b = 0; b < kCifarTrainBatches; ++b)
    write_bytes(fs::path(dir) / fmt::format("data_batch_{}.bin", b + 1),
                records(0, train * b / kCifarTrainBatches, train * (b + 1) / kCifarTrainBatches));
  write_bytes(fs::path(dir) / "test_batch.bin", records(1, 0, count(1)));
  std::string meta;
  for (const ClassSpec& spec : kClasses) meta += std::string(spec.name) + "\n";
  write_bytes(fs::path(dir) / "batches.meta.txt", meta);
}

}  // namespace imgcls::shapes
