#include "visualizer/app/window.h"

#include <cstdlib>
#include <cstring>

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>
#include <GL/gl.h>
#include <GL/glext.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>
#include <stb_image_write.h>

#include "core/output_file.h"

namespace pal::viz {

namespace {

// Framebuffer-object entry points are not part of the GL 1.1 ABI that libGL exports everywhere;
// they are fetched from the context once it exists.
struct FramebufferFunctions {
  PFNGLGENFRAMEBUFFERSPROC gen_framebuffers = nullptr;
  PFNGLBINDFRAMEBUFFERPROC bind_framebuffer = nullptr;
  PFNGLDELETEFRAMEBUFFERSPROC delete_framebuffers = nullptr;
  PFNGLCHECKFRAMEBUFFERSTATUSPROC check_framebuffer_status = nullptr;
  PFNGLGENRENDERBUFFERSPROC gen_renderbuffers = nullptr;
  PFNGLBINDRENDERBUFFERPROC bind_renderbuffer = nullptr;
  PFNGLRENDERBUFFERSTORAGEPROC renderbuffer_storage = nullptr;
  PFNGLFRAMEBUFFERRENDERBUFFERPROC framebuffer_renderbuffer = nullptr;
  PFNGLDELETERENDERBUFFERSPROC delete_renderbuffers = nullptr;
  bool load() {
    gen_framebuffers = reinterpret_cast<PFNGLGENFRAMEBUFFERSPROC>(glfwGetProcAddress("glGenFramebuffers"));
    bind_framebuffer = reinterpret_cast<PFNGLBINDFRAMEBUFFERPROC>(glfwGetProcAddress("glBindFramebuffer"));
    delete_framebuffers = reinterpret_cast<PFNGLDELETEFRAMEBUFFERSPROC>(glfwGetProcAddress("glDeleteFramebuffers"));
    check_framebuffer_status =
        reinterpret_cast<PFNGLCHECKFRAMEBUFFERSTATUSPROC>(glfwGetProcAddress("glCheckFramebufferStatus"));
    gen_renderbuffers = reinterpret_cast<PFNGLGENRENDERBUFFERSPROC>(glfwGetProcAddress("glGenRenderbuffers"));
    bind_renderbuffer = reinterpret_cast<PFNGLBINDRENDERBUFFERPROC>(glfwGetProcAddress("glBindRenderbuffer"));
    renderbuffer_storage = reinterpret_cast<PFNGLRENDERBUFFERSTORAGEPROC>(glfwGetProcAddress("glRenderbufferStorage"));
    framebuffer_renderbuffer =
        reinterpret_cast<PFNGLFRAMEBUFFERRENDERBUFFERPROC>(glfwGetProcAddress("glFramebufferRenderbuffer"));
    delete_renderbuffers = reinterpret_cast<PFNGLDELETERENDERBUFFERSPROC>(glfwGetProcAddress("glDeleteRenderbuffers"));
    return gen_framebuffers && bind_framebuffer && delete_framebuffers && check_framebuffer_status && gen_renderbuffers &&
           bind_renderbuffer && renderbuffer_storage && framebuffer_renderbuffer && delete_renderbuffers;
  }
};
FramebufferFunctions gl_fbo;

std::string last_glfw_error;
void remember_glfw_error(int code, const char* description) {
  last_glfw_error = "GLFW error " + std::to_string(code) + ": " + (description ? description : "?");
}

}  // namespace

Window::Window(int width, int height, bool visible, const std::string& title)
    : visible_(visible), width_(width), height_(height) {
  const char* display = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  if ((!display || !*display) && (!wayland || !*wayland))
    throw WindowError(
        "pal-viz needs a display and none is set (DISPLAY is empty). On a machine without a screen, run it under a "
        "virtual X server: xvfb-run -a -s \"-screen 0 1600x1000x24\" pal-viz ...");
  glfwSetErrorCallback(remember_glfw_error);
  if (!glfwInit()) throw WindowError("could not start GLFW (" + last_glfw_error + "); is DISPLAY=" +
                                     std::string(display ? display : "") + " a running X server?");
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_VISIBLE, visible ? GLFW_TRUE : GLFW_FALSE);
  window_ = glfwCreateWindow(width, height, title.c_str(), nullptr, nullptr);
  if (!window_) {
    glfwTerminate();
    throw WindowError("could not open an OpenGL 3.3 window (" + last_glfw_error +
                      "); pal-viz needs OpenGL 3.3, which Mesa's software renderer (llvmpipe) provides");
  }
  glfwMakeContextCurrent(window_);
  glfwSwapInterval(visible ? 1 : 0);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // the layout is computed, not saved: every start looks the same
  ImGui::StyleColorsDark();
  ImGui::GetStyle().WindowRounding = 0.0f;
  ImGui_ImplGlfw_InitForOpenGL(window_, true);
  ImGui_ImplOpenGL3_Init("#version 330");

  if (!visible) {
    // Hidden windows have no guaranteed default framebuffer contents: draw into our own.
    if (!gl_fbo.load()) throw WindowError("this OpenGL driver lacks framebuffer objects (needed for screenshots)");
    gl_fbo.gen_framebuffers(1, &framebuffer_);
    gl_fbo.bind_framebuffer(GL_FRAMEBUFFER, framebuffer_);
    gl_fbo.gen_renderbuffers(1, &colour_buffer_);
    gl_fbo.bind_renderbuffer(GL_RENDERBUFFER, colour_buffer_);
    gl_fbo.renderbuffer_storage(GL_RENDERBUFFER, GL_RGBA8, width, height);
    gl_fbo.framebuffer_renderbuffer(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER, colour_buffer_);
    if (gl_fbo.check_framebuffer_status(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE)
      throw WindowError("could not create an off-screen framebuffer of " + std::to_string(width) + "x" +
                        std::to_string(height));
  }
}

Window::~Window() {
  if (framebuffer_) {
    gl_fbo.delete_framebuffers(1, &framebuffer_);
    gl_fbo.delete_renderbuffers(1, &colour_buffer_);
  }
  if (ImGui::GetCurrentContext()) {
    ImGui_ImplOpenGL3_Shutdown();
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();
  }
  if (window_) glfwDestroyWindow(window_);
  glfwTerminate();
}

bool Window::should_close() const { return glfwWindowShouldClose(window_) != 0; }

void Window::begin_frame(double wait_seconds) {
  if (wait_seconds > 0.0) glfwWaitEventsTimeout(wait_seconds);
  else glfwPollEvents();
  if (visible_) glfwGetFramebufferSize(window_, &width_, &height_);
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  if (!visible_) {
    // A hidden window may report any size; the off-screen target is what we draw.
    ImGuiIO& io = ImGui::GetIO();
    io.DisplaySize = ImVec2(float(width_), float(height_));
    io.DisplayFramebufferScale = ImVec2(1.0f, 1.0f);
  }
  ImGui::NewFrame();
}

void Window::end_frame() {
  ImGui::Render();
  if (!visible_) gl_fbo.bind_framebuffer(GL_FRAMEBUFFER, framebuffer_);
  glViewport(0, 0, width_, height_);
  // The window background colour: the tiled windows leave their background to this clear.
  const ImVec4 background = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
  glClearColor(background.x, background.y, background.z, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  if (visible_) glfwSwapBuffers(window_);
}

void Window::finish() const { glFinish(); }

void Window::resize_offscreen(int width, int height) {
  if (visible_) throw WindowError("resize_offscreen: the window is on screen; its size is the user's");
  gl_fbo.bind_renderbuffer(GL_RENDERBUFFER, colour_buffer_);
  gl_fbo.renderbuffer_storage(GL_RENDERBUFFER, GL_RGBA8, width, height);
  width_ = width;
  height_ = height;
}

std::string Window::renderer() const {
  const auto* text = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
  return text ? text : "unknown";
}

std::vector<unsigned char> Window::read_pixels() const {
  std::vector<unsigned char> pixels(static_cast<std::size_t>(width_) * static_cast<std::size_t>(height_) * 4);
  if (!visible_) gl_fbo.bind_framebuffer(GL_READ_FRAMEBUFFER, framebuffer_);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadPixels(0, 0, width_, height_, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
  if (glGetError() != GL_NO_ERROR) throw WindowError("glReadPixels failed");
  // OpenGL's rows start at the bottom; images start at the top.
  const std::size_t row = static_cast<std::size_t>(width_) * 4;
  std::vector<unsigned char> flipped(pixels.size());
  for (int y = 0; y < height_; ++y)
    std::memcpy(flipped.data() + static_cast<std::size_t>(y) * row,
                pixels.data() + static_cast<std::size_t>(height_ - 1 - y) * row, row);
  return flipped;
}

void Window::write_png(const std::string& path) const {
  const std::vector<unsigned char> pixels = read_pixels();
  // Encoded in memory, then written through OutputFile (core/output_file.h): stbi_write_png()
  // would write in place, leaving a truncated picture on a full disk and replacing a FIFO, a
  // device or a link at `path`.
  std::string encoded;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &encoded, width_, height_, 4, pixels.data(), width_ * 4))
    throw std::runtime_error("could not encode the PNG for '" + path + "' (out of memory?)");
  write_output_file(path, encoded);  // throws ScenarioError: exit code 2, the old file untouched
}

}  // namespace pal::viz
