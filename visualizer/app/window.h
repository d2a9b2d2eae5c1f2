// The window: GLFW + an OpenGL 3.3 core context + Dear ImGui's GLFW/OpenGL3 backends. Interactive
// mode shows it; screenshot and benchmark modes keep it hidden and render into an off-screen
// framebuffer, which works under Xvfb with Mesa's software renderer.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

struct GLFWwindow;

namespace pal::viz {

class WindowError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Window {
 public:
  // Throws WindowError with what to do (no DISPLAY: run under xvfb-run; no GL 3.3: ...).
  Window(int width, int height, bool visible, const std::string& title);
  ~Window();
  Window(const Window&) = delete;
  Window& operator=(const Window&) = delete;

  bool should_close() const;
  // Waits up to `wait_seconds` for input (0: just poll), then starts an ImGui frame. An idle
  // interactive window waits, so it costs nothing while nobody touches it.
  void begin_frame(double wait_seconds = 0.0);
  void end_frame();                 // render ImGui; swap (visible) or into the off-screen target
  void finish() const;              // glFinish: wait until the GPU (or llvmpipe) is done
  // Off-screen windows only: draw the next frames at another size (pal-viz --fit-height).
  void resize_offscreen(int width, int height);
  int width() const { return width_; }
  int height() const { return height_; }
  std::string renderer() const;     // GL_RENDERER, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
  // The last rendered frame, RGBA, top row first. Throws WindowError on failure.
  std::vector<unsigned char> read_pixels() const;
  // Through core/output_file.h: throws ScenarioError when `path` cannot be written (a folder, FIFO,
  // device or link there, a missing folder, a full disk), leaving what was there as it was.
  void write_png(const std::string& path) const;

 private:
  GLFWwindow* window_ = nullptr;
  bool visible_ = false;
  int width_ = 0;
  int height_ = 0;
  unsigned framebuffer_ = 0;
  unsigned colour_buffer_ = 0;
};

}  // namespace pal::viz
