// Memory-layout panel: q, q_vecs, the key cache, k_vecs, the value cache, logits_vec and v_vec as
// they lie in memory, each element coloured by the thread that loads it. These are the figures of
// upstream's design doc ("query", "q_vecs", "key", "k_vecs", "value", "logits_vec", "v_vec"),
// regenerated from this run's recording: the element offsets every lane loaded, at every iteration.
//
// Colour rule (all figures): an element's fill is its loader's colour (by thread group, warp, lane
// or iteration, as chosen); loaded at the current step = full colour, at an earlier step = slightly
// dimmed, at a later step = strongly dimmed, never loaded by this thread block = dark grey.
// The selected (or hovered) thread's elements are outlined in yellow.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <imgui.h>

#include "visualizer/model/derived.h"
#include "visualizer/model/format.h"
#include "visualizer/model/grouped.h"
#include "visualizer/model/logits_buffer.h"
#include "visualizer/model/sparsity.h"
#include "kernels/grouped_geometry.h"
#include "kernels/record_view.h"
#include "visualizer/panels/panels.h"
#include "visualizer/panels/widgets.h"

namespace pal::viz {

namespace {

constexpr ImU32 kSeparator = IM_COL32(15, 15, 18, 255);
constexpr ImU32 kChunkSeparator = IM_COL32(255, 255, 255, 160);
constexpr ImU32 kPaddingHatch = IM_COL32(255, 80, 80, 200);

// Everything a figure needs about "now": the partition's thread block, the step, which step loaded
// each iteration's data.
struct Now {
  const ViewModel& model;
  UiState& ui;
  const Session& s;
  KernelGeometry g;
  int step;
  int partition;
  std::int64_t tb;
  TokenRange range;
  int kv_head;
  int focus;  // thread to outline, or -1
  std::vector<int> query_steps, qk_steps, v_steps;

  Now(const ViewModel& m, UiState& u)
      : model(m), ui(u), s(m.session()), g(m.session().geometry()), step(m.clamp_step(u.step)),
        partition(m.partition_of_step(u.step)), tb(m.tb_of_step(u.step)),
        range(m.session().range(m.seq_idx(), m.partition_of_step(u.step))), kv_head(m.session().kv_head_of(m.head_idx())),
        focus(focus_thread(u)) {
    const Timeline& t = m.timeline();
    for (int i = 0; i < divide_round_up(g.num_vecs_per_thread(), g.num_thread_groups()); ++i)
      query_steps.push_back(t.find(StepKind::query_load, partition, i));
    for (int i = 0; i < num_iterations(); ++i) {
      qk_steps.push_back(t.find(StepKind::qk_iteration, partition, i));
      v_steps.push_back(t.find(StepKind::v_iteration, partition, i));
    }
  }
  int num_iterations() const { return divide_round_up(range.num_blocks(), g.num_warps()); }
  int load_step(const Loader& load) const {
    const auto at = [](const std::vector<int>& steps, int i) {
      return i >= 0 && i < static_cast<int>(steps.size()) ? steps[static_cast<std::size_t>(i)] : -1;
    };
    switch (load.kind) {
      case LoadKind::query: return at(query_steps, load.trip);
      case LoadKind::key: return at(qk_steps, load.iteration);
      case LoadKind::value: return at(v_steps, load.iteration);
      default: break;
    }
    return -1;
  }
  const Loader* loader(TensorKind tensor, std::int64_t element) const {
    return model.load_index().loader_of(tensor, element, partition);
  }
  ImU32 fill(const Loader* load) const {
    if (!load) return kEmptyColour;
    const ImU32 base = loader_colour(model, ui, *load);
    const int at = load_step(*load);
    if (at == step) return base;
    return at < step ? dimmed(base, 0.35f) : dimmed(base, 0.75f);
  }
  bool outlined(const Loader* load) const { return load && focus >= 0 && load->thread == focus; }
  // The iteration the figures that show one iteration should use: the current step's, else 0.
  int current_iteration(StepKind kind) const {
    const Step& st = model.step(step);
    return st.kind == kind ? st.index : 0;
  }
};

void element_tooltip(const Now& now, TensorKind tensor, std::int64_t element) {
  const ElementInfo info = describe_element(now.s, now.model.load_index(), now.model.timeline(), tensor, element, now.partition);
  ImGui::BeginTooltip();
  ImGui::TextUnformatted(info.summary().c_str());
  ImGui::EndTooltip();
  if (info.loader) {
    note_hovered_thread(now.ui, info.loader->thread);
    if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) now.ui.selected_thread = info.loader->thread;
  }
}

// Marks a padding slot (past seq_len): the kernel reads it, then masks it. A red veil and a slash,
// so the slot's loader colour stays visible underneath.
void hatch(const Canvas& c, float x0, float y0, float x1, float y1) {
  c.draw->AddRectFilled(c.at(x0, y0), c.at(x1, y1), IM_COL32(255, 40, 40, 70));
  c.draw->AddLine(c.at(x0, y1), c.at(x1, y0), kPaddingHatch, 1.0f);
}

// A grid of rows x columns cells that wraps its columns into bands of the visible width, each band
// with its own column header: q_vecs and k_vecs have up to 64 columns.
struct BandedGrid {
  float label_w, cell_w, cell_h, header_h = 20.0f, gap = 10.0f;
  int rows, columns, per_band;
  BandedGrid(float label, float cw, float ch, int num_rows, int num_columns)
      : label_w(label), cell_w(cw), cell_h(ch), rows(num_rows), columns(num_columns) {
    per_band = std::clamp(int((ImGui::GetContentRegionAvail().x - label_w - 4) / cell_w), 1, std::max(1, columns));
  }
  int bands() const { return divide_round_up(columns, per_band); }
  float band_h() const { return header_h + cell_h * float(rows) + gap; }
  ImVec2 size() const { return ImVec2(label_w + cell_w * float(std::min(per_band, columns)) + 4, band_h() * float(bands())); }
  float x(int column) const { return label_w + float(column % per_band) * cell_w; }
  float y(int row, int column) const { return float(column / per_band) * band_h() + header_h + float(row) * cell_h; }
  float header_y(int column) const { return float(column / per_band) * band_h(); }
};

std::string dim_range(int first, int count) {
  return count == 1 ? "d " + std::to_string(first) : "d " + std::to_string(first) + "-" + std::to_string(first + count - 1);
}

// ---- query ---------------------------------------------------------------------------------------

void draw_query(const Now& now) {
  const Session& s = now.s;
  const int head_size = now.g.head_size, vec = now.g.vec_size();
  const float avail = ImGui::GetContentRegionAvail().x - 94.0f;  // the label column and the 4-px margin
  const float cw = std::clamp(avail / float(head_size), 6.0f, 30.0f) * now.ui.memory_zoom;
  const float ch = 22.0f * now.ui.memory_zoom;
  text_wrapped("q [num_seqs, num_heads, head_size] = [%d, %d, %d], %s: the rows of seq %d. Thread block (head %d) "
                     "reads its own row, %d vecs of VEC_SIZE = %d elements (16 bytes per thread group = %d lanes x %d "
                     "elements). Label under each vec: the thread that copies it into q_vecs.",
                     s.scenario().num_seqs, s.scenario().num_heads, head_size, std::string(dtype_name(s.scenario().dtype)).c_str(),
                     now.model.seq_idx(), now.model.head_idx(), head_size / vec, vec, now.g.thread_group_size(), vec);
  const int heads = s.scenario().num_heads;
  // The focused head and its neighbours (at most 16 rows, however many heads there are).
  const int first_head = std::clamp(now.model.head_idx() - 8, 0, std::max(0, heads - 16));
  const int last_head = std::min(heads, first_head + 16);
  const float row_h = ch + 18.0f;
  const Canvas c = begin_canvas("##query", ImVec2(90.0f + cw * float(head_size) + 4, row_h * float(last_head - first_head) + 4));
  const std::int64_t seq_base = std::int64_t(now.model.seq_idx()) * heads * head_size;
  for (int head = first_head; head < last_head; ++head) {
    const float y = float(head - first_head) * row_h;
    const bool focused = head == now.model.head_idx();
    c.draw->AddText(c.at(0, y + 3), focused ? kSelectionColour : IM_COL32(150, 150, 150, 255),
                    ("q[" + std::to_string(now.model.seq_idx()) + "][" + std::to_string(head) + "]").c_str());
    for (int d = 0; d < head_size; ++d) {
      const std::int64_t element = seq_base + std::int64_t(head) * head_size + d;
      const Loader* load = focused ? now.loader(TensorKind::query, element) : nullptr;
      const float x = 90.0f + float(d) * cw;
      draw_cell(c, x, y, x + cw - 1, y + ch, focused ? now.fill(load) : dimmed(kEmptyColour, 0.3f), nullptr,
                now.outlined(load) ? kSelectionColour : 0);
      if (c.hovered(x, y, x + cw, y + ch)) element_tooltip(now, TensorKind::query, element);
    }
    for (int v = 0; v <= head_size / vec; ++v) {
      const float x = 90.0f + float(v * vec) * cw - 1;
      c.draw->AddLine(c.at(x, y - 1), c.at(x, y + ch + 1), focused ? kChunkSeparator : kSeparator, 2.0f);
    }
    if (focused && float(vec) * cw >= 22.0f)
      for (int v = 0; v < head_size / vec; ++v) {
        const Loader* load = now.loader(TensorKind::query, seq_base + std::int64_t(head) * head_size + v * vec);
        if (!load) continue;
        c.draw->AddText(c.at(90.0f + float(v * vec) * cw + 2, y + ch + 1), IM_COL32(200, 200, 200, 255),
                        ("t" + std::to_string(load->thread)).c_str());
      }
  }
}

// ---- q_vecs --------------------------------------------------------------------------------------

void draw_q_vecs(const Now& now) {
  const int groups = now.g.thread_group_size(), columns = now.g.num_vecs_per_thread(), vec = now.g.vec_size();
  text_wrapped("__shared__ Q_vec q_vecs[THREAD_GROUP_SIZE = %d][NUM_VECS_PER_THREAD = %d], each a vec of %d "
                     "elements (values from the recording). Row r is what lane r of every thread group multiplies with "
                     "its key vecs; column i was copied by thread group i. Row r holds dims (r + i*%d)*%d ...",
                     groups, columns, vec, groups, vec);
  const ThreadBlockRecord record(now.s.recording(), now.tb);
  const float cw = std::max(80.0f, 60.0f + 18.0f * float(vec)) * now.ui.memory_zoom * 0.8f;
  const float ch = 44.0f * now.ui.memory_zoom;
  const BandedGrid grid(70.0f, cw, ch, groups, columns);
  const Canvas c = begin_canvas("##q_vecs", grid.size());
  const std::int64_t q_base = (std::int64_t(now.model.seq_idx()) * now.s.scenario().num_heads + now.model.head_idx()) *
                              now.g.head_size;
  for (int i = 0; i < columns; ++i) {
    c.draw->AddText(c.at(grid.x(i) + 4, grid.header_y(i)), IM_COL32(200, 200, 200, 255), ("i = " + std::to_string(i)).c_str());
    if (i % grid.per_band == 0)
      for (int r = 0; r < groups; ++r)
        c.draw->AddText(c.at(0, grid.y(r, i) + 4), IM_COL32(200, 200, 200, 255), ("row " + std::to_string(r)).c_str());
  }
  for (int r = 0; r < groups; ++r) {
    for (int i = 0; i < columns; ++i) {
      const int vec_idx = r + i * groups;
      const int first_dim = vec_idx * vec;
      const Loader* load = now.loader(TensorKind::query, q_base + first_dim);
      const float x = grid.x(i), y = grid.y(r, i);
      const std::string text = dim_range(first_dim, vec) + "\n" + (load ? "t" + std::to_string(load->thread) : std::string("?"));
      draw_cell(c, x, y, x + cw - 2, y + ch - 2, now.fill(load), nullptr, now.outlined(load) ? kSelectionColour : 0);
      c.draw->AddText(c.at(x + 4, y + 3), text_colour_on(now.fill(load)), text.c_str());
      if (c.hovered(x, y, x + cw, y + ch)) {
        std::string values;
        for (int e = 0; e < vec; ++e)
          values += (e ? ", " : "") + format_value(record.q_vec_element((r * columns + i) * vec + e), 5);
        ImGui::SetTooltip("q_vecs[%d][%d] = (%s)\n= q %s (vec %d of the head)\ncopied by %s", r, i, values.c_str(),
                          dim_range(first_dim, vec).c_str(), vec_idx,
                          load ? thread_label(now.model, load->thread).c_str() : "nobody");
        if (load) note_hovered_thread(now.ui, load->thread);
        if (load && ImGui::IsMouseClicked(ImGuiMouseButton_Left)) now.ui.selected_thread = load->thread;
      }
    }
  }
}

// ---- key -----------------------------------------------------------------------------------------

void draw_key(const Now& now) {
  const Session& s = now.s;
  const int bs = now.g.block_size, x = now.g.x(), chunks = now.g.head_size / x;
  const bool fp8 = is_fp8(s.scenario().kv_cache_dtype);
  text_wrapped("k_cache [num_blocks, num_kv_heads, head_size/x, block_size, x] with x = %d (16 bytes): kv head %d's "
                     "part of each kv_block of seq %d, in memory order. A row is one x-chunk (dims c*x ... c*x+%d) of all "
                     "%d tokens, each token's %d elements side by side: the x split. A thread group reads one token; its "
                     "lanes read %d elements (%d bytes) each, %s Red slashes: padding slots past seq_len (read, then masked).",
                     x, now.kv_head, now.model.seq_idx(), x - 1, bs, x, now.g.vec_size(), now.g.key_load_bytes(),
                     now.g.vec_size() * now.g.thread_group_size() >= x
                         ? "so a warp's k_vecs[j] load is one whole row."
                         : fp8 ? "so a warp's k_vecs[j] load reads part of each token's chunk: with an fp8 cache x is 16 "
                                 "one-byte elements while VEC_SIZE follows the query dtype, so each sector is only part-"
                                 "filled by one load and the next j reads the rest."
                               : "so a warp's k_vecs[j] load reads part of each token's chunk.");
  const float label_w = 64.0f;
  // Fit one kv_block's row of block_size * x elements to the panel's width; zoom scales from there.
  const float fit = (ImGui::GetContentRegionAvail().x - label_w - 8.0f) / float(bs * x);
  const float cw = std::max(2.0f, std::clamp(fit, 3.0f, 14.0f) * now.ui.memory_zoom);
  const float ch = std::max(6.0f, 15.0f * now.ui.memory_zoom);
  constexpr float kTokenLabelH = 14.0f;
  const float block_h = 18.0f + kTokenLabelH + ch * float(chunks) + 10.0f;
  const int num_blocks = now.range.num_blocks();
  const float width = label_w + cw * float(bs * x) + 4;
  const Canvas c = begin_canvas("##key", ImVec2(width, block_h * float(num_blocks)));
  const int seq_len = s.seq_len(now.model.seq_idx());
  for (int b = 0; b < num_blocks; ++b) {
    const int logical = now.range.start_block_idx + b;
    const float top = float(b) * block_h;
    if (!ImGui::IsRectVisible(c.at(0, top), c.at(width, top + block_h))) continue;
    const int physical = s.physical_block(now.model.seq_idx(), logical);
    const int warp = b % now.g.num_warps(), iteration = b / now.g.num_warps();
    const std::string header = "logical block " + std::to_string(logical) + " -> physical " + std::to_string(physical) +
                               "   warp " + std::to_string(warp) + ", iteration " + std::to_string(iteration) + "   tokens " +
                               std::to_string(logical * bs) + "-" + std::to_string(std::min(logical * bs + bs, seq_len) - 1) +
                               (kv_block_skipped(s.scenario(), seq_len, now.model.head_idx(), logical)
                                    ? "   skipped by block sparsity for this head: never read"
                                    : "");
    c.draw->AddText(c.at(0, top), IM_COL32(210, 210, 210, 255), header.c_str());
    const float grid_top = top + 18.0f + kTokenLabelH;
    // Token labels over the columns: each token's x elements, every token where the labels fit.
    const float token_w = cw * float(x);
    const int label_every = std::max(1, int(std::ceil((ImGui::CalcTextSize("t0000").x + 4.0f) / token_w)));
    for (int slot = 0; slot < bs; slot += label_every) {
      const int token = logical * bs + slot;
      const std::string label = "t" + std::to_string(token);
      c.draw->AddText(c.at(label_w + float(slot) * token_w + 2.0f, grid_top - kTokenLabelH), token < seq_len ? IM_COL32(190, 190, 190, 255) : IM_COL32(200, 90, 90, 255),
                      label.c_str());
    }
    for (int chunk = 0; chunk < chunks; ++chunk) {
      const float y = grid_top + float(chunk) * ch;
      c.draw->AddText(c.at(0, y - 1), IM_COL32(160, 160, 160, 255),
                      ("d " + std::to_string(chunk * x) + "-" + std::to_string(chunk * x + x - 1)).c_str());
      // A row is block_size * x elements in memory order; runs of one colour (a lane's vec) are
      // drawn as one rectangle, which keeps software GL fast.
      int run_start = 0;
      ImU32 run_colour = 0;
      for (int column = 0; column <= bs * x; ++column) {
        ImU32 colour = 0;
        if (column < bs * x) {
          const std::int64_t element = key_element(s, physical, now.kv_head, chunk * x + column % x, column / x);
          colour = now.fill(now.loader(TensorKind::key_cache, element));
        }
        if (column == bs * x || (column > run_start && colour != run_colour)) {
          c.draw->AddRectFilled(c.at(label_w + float(run_start) * cw, y), c.at(label_w + float(column) * cw, y + ch - 1),
                                run_colour);
          run_start = column;
        }
        run_colour = colour;
      }
    }
    // Token (x-chunk) separators, padding hatches, the focused thread's outline, row borders.
    for (int slot = 0; slot <= bs; ++slot) {
      const float x0 = label_w + float(slot * x) * cw;
      c.draw->AddLine(c.at(x0, grid_top), c.at(x0, grid_top + ch * float(chunks)), kSeparator, 1.5f);
      if (slot < bs && logical * bs + slot >= seq_len)
        for (int chunk = 0; chunk < chunks; ++chunk)
          hatch(c, x0, grid_top + float(chunk) * ch, x0 + float(x) * cw, grid_top + float(chunk + 1) * ch - 1);
    }
    if (now.focus >= 0)
      for (int chunk = 0; chunk < chunks; ++chunk)
        for (int slot = 0; slot < bs; ++slot)
          for (int e = 0; e < x; e += now.g.vec_size()) {
            const Loader* load = now.loader(TensorKind::key_cache, key_element(s, physical, now.kv_head, chunk * x + e, slot));
            if (!now.outlined(load)) continue;
            const float x0 = label_w + float(slot * x + e) * cw, y = grid_top + float(chunk) * ch;
            c.draw->AddRect(c.at(x0, y), c.at(x0 + float(now.g.vec_size()) * cw, y + ch - 1), kSelectionColour, 0, 0, 1.5f);
          }
    if (c.hovered(label_w, grid_top, label_w + cw * float(bs * x), grid_top + ch * float(chunks))) {
      const ImVec2 mouse = ImGui::GetMousePos();
      const int column = std::clamp(int((mouse.x - c.origin.x - label_w) / cw), 0, bs * x - 1);
      const int chunk = std::clamp(int((mouse.y - c.origin.y - grid_top) / ch), 0, chunks - 1);
      element_tooltip(now, TensorKind::key_cache, key_element(s, physical, now.kv_head, chunk * x + column % x, column / x));
    }
  }
}

// ---- k_vecs --------------------------------------------------------------------------------------

void draw_k_vecs(const Now& now) {
  const Session& s = now.s;
  const int tgs = now.g.thread_group_size(), vec = now.g.vec_size(), nv = now.g.num_vecs_per_thread();
  const int thread = std::max(0, now.focus);
  const int group = thread / tgs;
  const int warp = thread / kWarpSize;
  const int iteration = now.current_iteration(StepKind::qk_iteration);
  const int logical = now.range.start_block_idx + warp + iteration * now.g.num_warps();
  text_wrapped("K_vec k_vecs[NUM_VECS_PER_THREAD = %d] in the registers of each lane of thread group %d (warp %d) at "
                     "QK iteration %d. Select a lane elsewhere to pick another group. Lane r's k_vecs[j] holds key dims "
                     "of vec r + j*%d, the same dims as its q_vecs row r, so the lane's partial dot product needs no "
                     "exchange until the group's final butterfly.",
                     nv, group, warp, iteration, tgs);
  if (logical >= now.range.end_block_idx) {
    ImGui::TextDisabled("Warp %d has no kv_block at iteration %d.", warp, iteration);
    return;
  }
  const int slot = group % now.g.block_size;  // physical_block_offset = thread_group_idx % BLOCK_SIZE
  const int token = logical * now.g.block_size + slot;
  const ThreadBlockRecord record(s.recording(), now.tb);
  const TokenRecord& token_record = record.token(token - now.range.start_token_idx);
  ImGui::Text("token %d (logical block %d, slot %d): logit = %s%s", token, logical, slot,
              format_value(token_record.logit, 6).c_str(), token_record.masked ? " (masked: past seq_len)" : "");
  const float cw = std::max(90.0f, 40.0f + 16.0f * float(vec)) * now.ui.memory_zoom * 0.8f;
  const float ch = 44.0f * now.ui.memory_zoom;
  const BandedGrid grid(90.0f, cw, ch, tgs, nv);
  const Canvas c = begin_canvas("##k_vecs", grid.size());
  const int physical = s.physical_block(now.model.seq_idx(), logical);
  for (int j = 0; j < nv; ++j) {
    c.draw->AddText(c.at(grid.x(j) + 4, grid.header_y(j)), IM_COL32(200, 200, 200, 255), ("j = " + std::to_string(j)).c_str());
    if (j % grid.per_band == 0)
      for (int r = 0; r < tgs; ++r) {
        const int lane_thread = group * tgs + r;
        c.draw->AddText(c.at(0, grid.y(r, j) + 4), IM_COL32(200, 200, 200, 255),
                        ("t" + std::to_string(lane_thread) + " lane " + std::to_string(lane_thread % kWarpSize)).c_str());
      }
  }
  for (int r = 0; r < tgs; ++r) {
    const int lane_thread = group * tgs + r;
    for (int j = 0; j < nv; ++j) {
      const int vec_idx = r + j * tgs;
      const int first_dim = vec_idx * vec;
      const std::int64_t element = key_element(s, physical, now.kv_head, first_dim, slot);
      const Loader* load = now.loader(TensorKind::key_cache, element);
      const float x0 = grid.x(j), y = grid.y(r, j);
      draw_cell(c, x0, y, x0 + cw - 2, y + ch - 2, now.fill(load), nullptr, now.outlined(load) ? kSelectionColour : 0);
      c.draw->AddText(c.at(x0 + 4, y + 3), text_colour_on(now.fill(load)),
                      (dim_range(first_dim, vec) + "\nelem " + std::to_string(element)).c_str());
      if (c.hovered(x0, y, x0 + cw, y + ch)) {
        std::string values;
        for (int e = 0; e < vec; ++e)
          values += (e ? ", " : "") + format_value(cache_value_as_loaded(s, TensorKind::key_cache, element + e), 5);
        ImGui::SetTooltip("k_vecs[%d] of thread %d = (%s)\nkey %s of token %d, element offset %lld\n"
                          "offset1 = (vec_idx * VEC_SIZE) / x = %d, offset2 = %% x = %d",
                          j, lane_thread, values.c_str(), dim_range(first_dim, vec).c_str(), token,
                          static_cast<long long>(element), first_dim / now.g.x(), first_dim % now.g.x());
        note_hovered_thread(now.ui, lane_thread);
        if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) now.ui.selected_thread = lane_thread;
      }
    }
  }
}

// ---- value ---------------------------------------------------------------------------------------

void draw_value(const Now& now) {
  const Session& s = now.s;
  const int bs = now.g.block_size, hs = now.g.head_size, vv = now.g.v_vec_size();
  text_wrapped("v_cache [num_blocks, num_kv_heads, head_size, block_size]: kv head %d's part of each kv_block of seq "
                     "%d. Row = one head dim, its %d tokens side by side (token-minor). Lane L reads %d consecutive tokens "
                     "(%d bytes) of rows L/%d + i*%d; white lines mark those %d-byte v_vecs.%s",
                     now.kv_head, now.model.seq_idx(), bs, vv, now.g.value_load_bytes(), now.g.num_v_vecs_per_row(),
                     now.g.num_rows_per_iter(), now.g.value_load_bytes(),
                     is_fp8(s.scenario().kv_cache_dtype)
                         ? " fp8 cache: V_VEC_SIZE follows the query dtype, so a v_vec is 8 one-byte codes, dequantized "
                           "(code * v_scale) as it is loaded."
                         : "");
  // Fit the blocks side by side to the width and a block's head_size rows to the height.
  const int num_blocks_shown = std::max(now.range.num_blocks(), 1);
  const float fit_w = (ImGui::GetContentRegionAvail().x / float(std::min(num_blocks_shown, 8)) - 40.0f) / float(bs);
  const float fit_h = (ImGui::GetContentRegionAvail().y - 50.0f) / float(hs);
  const float cw = std::max(3.0f, std::clamp(fit_w, 6.0f, 28.0f) * now.ui.memory_zoom);
  const float ch = std::max(2.0f, std::clamp(fit_h, 3.0f, 12.0f) * now.ui.memory_zoom);
  const float block_w = cw * float(bs) + 44.0f;
  const float avail = std::max(ImGui::GetContentRegionAvail().x, block_w);
  const int per_row = std::max(1, int(avail / block_w));
  const int num_blocks = now.range.num_blocks();
  const float block_h = 34.0f + ch * float(hs) + 8.0f;
  const int rows = divide_round_up(std::max(num_blocks, 1), per_row);
  const Canvas c = begin_canvas("##value", ImVec2(block_w * float(std::min(per_row, std::max(num_blocks, 1))), block_h * float(rows)));
  const int seq_len = s.seq_len(now.model.seq_idx());
  for (int b = 0; b < num_blocks; ++b) {
    const int logical = now.range.start_block_idx + b;
    const float left = float(b % per_row) * block_w + 30.0f, top = float(b / per_row) * block_h;
    if (!ImGui::IsRectVisible(c.at(left, top), c.at(left + block_w, top + block_h))) continue;
    const int physical = s.physical_block(now.model.seq_idx(), logical);
    c.draw->AddText(c.at(left - 30.0f, top), IM_COL32(210, 210, 210, 255),
                    ("L" + std::to_string(logical) + " -> P" + std::to_string(physical) + "\nw" +
                     std::to_string(b % now.g.num_warps()) + " it " + std::to_string(b / now.g.num_warps()))
                        .c_str());
    const float grid_top = top + 34.0f;
    for (int d = 0; d < hs; ++d)
      for (int slot = 0; slot < bs; slot += vv) {
        // One lane loads a whole v_vec (V_VEC_SIZE slots of the row): one colour, one rectangle.
        const Loader* load = now.loader(TensorKind::value_cache, value_element(s, physical, now.kv_head, d, slot));
        const float x0 = left + float(slot) * cw, y = grid_top + float(d) * ch;
        c.draw->AddRectFilled(c.at(x0, y), c.at(x0 + float(vv) * cw, y + ch), now.fill(load));
        if (now.outlined(load)) c.draw->AddRect(c.at(x0, y), c.at(x0 + float(vv) * cw, y + ch), kSelectionColour, 0, 0, 1.5f);
        // The loading lane's number, where a row is tall enough for text.
        if (load && ch >= 11.0f) {
          const std::string lane = "l" + std::to_string(load->lane);
          if (ImGui::CalcTextSize(lane.c_str()).x + 2.0f <= float(vv) * cw)
            c.draw->AddText(c.at(x0 + 2.0f, y + ch * 0.5f - 7.0f), text_colour_on(now.fill(load)), lane.c_str());
        }
      }
    for (int slot = 0; slot <= bs; slot += vv)
      c.draw->AddLine(c.at(left + float(slot) * cw, grid_top), c.at(left + float(slot) * cw, grid_top + ch * float(hs)),
                      kChunkSeparator, 1.0f);
    for (int slot = 0; slot < bs; ++slot)
      if (logical * bs + slot >= seq_len)
        c.draw->AddRectFilled(c.at(left + float(slot) * cw, grid_top), c.at(left + float(slot + 1) * cw, grid_top + ch * float(hs)),
                              IM_COL32(255, 40, 40, 90));
    for (int d = 0; d < hs; d += now.g.num_rows_per_iter())
      c.draw->AddText(c.at(left - 2 - ImGui::CalcTextSize(std::to_string(d).c_str()).x - 2, grid_top + float(d) * ch - 6),
                      IM_COL32(150, 150, 150, 255), std::to_string(d).c_str());
    if (c.hovered(left, grid_top, left + cw * float(bs), grid_top + ch * float(hs))) {
      const ImVec2 mouse = ImGui::GetMousePos();
      const int slot = std::clamp(int((mouse.x - c.origin.x - left) / cw), 0, bs - 1);
      const int d = std::clamp(int((mouse.y - c.origin.y - grid_top) / ch), 0, hs - 1);
      element_tooltip(now, TensorKind::value_cache, value_element(s, physical, now.kv_head, d, slot));
    }
  }
}

// ---- logits_vec ----------------------------------------------------------------------------------

// The buffer's state colours: the cells' fill (darker for lower values) and the legend.
ImU32 logits_state_colour(LogitsState state) {
  switch (state) {
    case LogitsState::empty: return kEmptyColour;
    case LogitsState::raw_logit: return IM_COL32(110, 150, 230, 255);
    case LogitsState::exp_value: return IM_COL32(240, 160, 60, 255);
    case LogitsState::probability: return IM_COL32(90, 200, 110, 255);
  }
  return kEmptyColour;
}

void draw_logits_vec(const Now& now) {
  const int bs = now.g.block_size, vv = now.g.v_vec_size(), nvr = now.g.num_v_vecs_per_row();
  const DType dtype = now.s.scenario().dtype;
  const std::string dtype_text(dtype_name(dtype));
  const LogitsBuffer buffer = logits_buffer_at(now.s, now.model.timeline(), now.step);
  text_wrapped("The logits buffer in shared memory, one float per token slot (one row per kv_block), rewritten in "
               "place: the QK loop stores raw logits (scale * q.k%s), the exp passes overwrite them with exp(logit - "
               "max), the normalise passes with probabilities. The V loop reads it as logits_vec: %d probabilities "
               "(the same %d tokens as the lane's v_vec), converted to %s; chunk c of a block is read by the lanes L "
               "with L %% %d == c of the warp that owns the block.",
               now.s.scenario().alibi ? " + ALiBi" : "", vv, vv, dtype_text.c_str(), nvr);
  // The figure's label: what the buffer holds now, where, and its range.
  ImGui::TextColored(ImVec4(1.0f, 0.86f, 0.3f, 1.0f), "At this step: %s", buffer.caption().c_str());
  for (int st = 1; st < kNumLogitsStates; ++st) {
    if (st > 1) ImGui::SameLine(0, 14);
    const ImVec2 at = ImGui::GetCursorScreenPos();
    const float h = ImGui::GetTextLineHeight();
    ImGui::GetWindowDrawList()->AddRectFilled(ImVec2(at.x, at.y + h * 0.35f), ImVec2(at.x + 14, at.y + h * 0.65f),
                                              logits_state_colour(static_cast<LogitsState>(st)));
    ImGui::Dummy(ImVec2(16, h));
    ImGui::SameLine(0, 3);
    ImGui::TextDisabled("%s", std::string(logits_state_name(static_cast<LogitsState>(st))).c_str());
  }
  // Cells as wide as the zoom asks, narrower (down to 34 px) when the panel is narrower than that.
  const float fit_width = (ImGui::GetContentRegionAvail().x - 114.0f) / float(bs);
  const float cw = std::max(34.0f, std::min(52.0f * now.ui.memory_zoom, fit_width));
  const float ch = 22.0f;
  const int num_blocks = now.range.num_blocks();
  const float row_h = ch + 34.0f;
  const Canvas c = begin_canvas("##logits_vec", ImVec2(110 + cw * float(bs) + 4, row_h * float(num_blocks)));
  const int v_iteration = now.model.step(now.step).kind == StepKind::v_iteration ? now.model.step(now.step).index : -1;
  // A slot's fill is its state's colour, darker the lower its value lies in that state's range (raw
  // logits can be negative); which lanes read a chunk is said under it and by the separators.
  auto fill_of = [&](const LogitsSlot& slot) {
    const LogitsStateSpan& span = buffer.span(slot.state);
    if (!span.has_values || slot.skipped) return dimmed(logits_state_colour(slot.state), 0.75f);
    const float spread = span.max_value - span.min_value;
    const float share = spread > 0.0f ? (slot.value - span.min_value) / spread : 1.0f;
    return dimmed(logits_state_colour(slot.state), 0.7f * (1.0f - std::clamp(share, 0.0f, 1.0f)));
  };
  for (int b = 0; b < num_blocks; ++b) {
    const int logical = now.range.start_block_idx + b;
    const int warp = b % now.g.num_warps(), iteration = b / now.g.num_warps();
    const float y = float(b) * row_h;
    if (!ImGui::IsRectVisible(c.at(0, y), c.at(110 + cw * float(bs), y + row_h))) continue;
    c.draw->AddText(c.at(0, y + 3), iteration == v_iteration ? kSelectionColour : IM_COL32(200, 200, 200, 255),
                    ("block " + std::to_string(logical) + "\nwarp " + std::to_string(warp)).c_str());
    for (int offset = 0; offset < bs; ++offset) {
      const int t = b * bs + offset;  // slot of the buffer (partitions start on a kv_block edge)
      const LogitsSlot& slot = buffer.slots[static_cast<std::size_t>(t)];
      const bool written = slot.state != LogitsState::empty;
      const int chunk = offset / vv;  // lanes L with L % NUM_V_VECS_PER_ROW == chunk read it
      ImU32 fill = written ? fill_of(slot) : kEmptyColour;
      if (v_iteration >= 0 && iteration != v_iteration) fill = dimmed(fill, 0.6f);
      const float x0 = 110 + float(offset) * cw;
      std::string text = !written ? "" : slot.skipped ? "-max" : format_value(slot.value, 3);
      if (ImGui::CalcTextSize(text.c_str()).x > cw - 4) text = format_value(slot.value, 1);  // 1.914e-05 -> 2e-05
      const bool selected_lane = now.focus >= 0 && now.focus / kWarpSize == warp && (now.focus % kWarpSize) % nvr == chunk;
      draw_cell(c, x0, y, x0 + cw - 1, y + ch, fill, text.c_str(), selected_lane ? kSelectionColour : 0, 1.5f);
      if (slot.padding) hatch(c, x0, y, x0 + cw - 1, y + ch);
      if (!c.hovered(x0, y, x0 + cw, y + ch)) continue;
      std::string tip = "logits[" + std::to_string(t) + "], token " + std::to_string(slot.token_idx) + "\n";
      if (!written) {
        tip += "not written yet: the QK loop writes it at iteration " +
               std::to_string(qk_iteration_of_slot(t, bs, now.g.num_warps()));
      } else if (slot.padding) {
        tip += "padding slot past seq_len: holds the 0 the QK loop wrote (the exp and normalise loops stop at the "
               "last token)";
      } else {
        tip += std::string(logits_state_name(slot.state)) + ": " + format_value(slot.value, 6);
        if (slot.skipped) tip += " (kv_block skipped by block sparsity: the QK loop wrote -FLT_MAX)";
        if (slot.state == LogitsState::probability)
          tip += "\nas " + dtype_text + " in logits_vec: " + format_value(round_to_dtype(slot.value, dtype), 6);
      }
      tip += "\nread in the V loop by lanes L % " + std::to_string(nvr) + " == " + std::to_string(chunk) + " of warp " +
             std::to_string(warp);
      ImGui::SetTooltip("%s", tip.c_str());
    }
    for (int chunk = 0; chunk < bs / vv; ++chunk) {
      std::string lanes = "lanes ";
      for (int lane = chunk; lane < kWarpSize && lanes.size() < 40; lane += nvr) lanes += std::to_string(lane) + ",";
      lanes += "..";
      c.draw->AddText(c.at(110 + float(chunk * vv) * cw + 2, y + ch + 2), IM_COL32(170, 170, 170, 255), lanes.c_str());
      c.draw->AddLine(c.at(110 + float(chunk * vv) * cw - 1, y - 2), c.at(110 + float(chunk * vv) * cw - 1, y + ch + 14),
                      kChunkSeparator, 2.0f);
    }
  }
}

// ---- v_vec ---------------------------------------------------------------------------------------

void draw_v_vec(const Now& now) {
  const Session& s = now.s;
  const int thread = std::max(0, now.focus);
  const int warp = thread / kWarpSize, lane = thread % kWarpSize;
  const int vv = now.g.v_vec_size(), nvr = now.g.num_v_vecs_per_row();
  const int iteration = now.current_iteration(StepKind::v_iteration);
  const int logical = now.range.start_block_idx + warp + iteration * now.g.num_warps();
  text_wrapped("V_vec v_vec: what thread %d (warp %d, lane %d) reads at V iteration %d, one %d-byte vec per row it "
                     "owns (rows lane/%d + i*%d), multiplied with its logits_vec and added to accs[i]. Select another lane "
                     "to follow it.%s",
                     thread, warp, lane, iteration, now.g.value_load_bytes(), nvr, now.g.num_rows_per_iter(),
                     is_fp8(s.scenario().kv_cache_dtype) ? " The values shown are the dequantized ones (code * v_scale)." : "");
  if (logical >= now.range.end_block_idx) {
    ImGui::TextDisabled("Warp %d has no kv_block at iteration %d.", warp, iteration);
    return;
  }
  const ThreadBlockRecord record(s.recording(), now.tb);
  const int first_slot = (lane % nvr) * vv;
  const int first_token = logical * now.g.block_size + first_slot;
  const int physical = s.physical_block(now.model.seq_idx(), logical);
  const std::vector<float> before = accs_after_v_iteration(s, now.model.seq_idx(), now.model.head_idx(), now.partition, iteration - 1);
  const std::vector<float> after = accs_after_v_iteration(s, now.model.seq_idx(), now.model.head_idx(), now.partition, iteration);
  const int rows = s.dims().num_rows_per_thread;
  if (ImGui::BeginTable("v_vec", vv + 4, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) {
    ImGui::TableSetupColumn("");
    for (int e = 0; e < vv; ++e) ImGui::TableSetupColumn(("tok " + std::to_string(first_token + e)).c_str());
    ImGui::TableSetupColumn("p . v");
    ImGui::TableSetupColumn("accs before");
    ImGui::TableSetupColumn("accs after");
    ImGui::TableHeadersRow();
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::TextUnformatted("logits_vec");
    for (int e = 0; e < vv; ++e) {
      ImGui::TableNextColumn();
      const int t = first_token + e - now.range.start_token_idx;
      ImGui::TextUnformatted(t < now.range.num_tokens() ? format_value(round_to_dtype(record.prob(t), s.scenario().dtype), 4).c_str() : "0");
    }
    for (int i = 0; i < rows; ++i) {
      const int row_idx = lane / nvr + i * now.g.num_rows_per_iter();
      if (row_idx >= now.g.head_size) continue;
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::Text("v_vec i=%d (d %d)", i, row_idx);
      const std::int64_t element = value_element(s, physical, now.kv_head, row_idx, first_slot);
      float dot = 0.0f;
      for (int e = 0; e < vv; ++e) {
        ImGui::TableNextColumn();
        const int t = first_token + e - now.range.start_token_idx;
        const bool padding = first_token + e >= s.seq_len(now.model.seq_idx());
        const float v = cache_value_as_loaded(s, TensorKind::value_cache, element + e);
        if (padding) ImGui::TextDisabled("%s->0", format_value(v, 3).c_str());
        else ImGui::TextUnformatted(format_value(v, 4).c_str());
        const float p = t < now.range.num_tokens() ? round_to_dtype(record.prob(t), s.scenario().dtype) : 0.0f;
        dot += p * (padding ? 0.0f : v);
      }
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(format_value(dot, 5).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(format_value(before[static_cast<std::size_t>(thread * rows + i)], 5).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(format_value(after[static_cast<std::size_t>(thread * rows + i)], 5).c_str());
    }
    ImGui::EndTable();
  }
  ImGui::TextDisabled("Padding slots (past seq_len) are replaced by 0 before the product: 0 x NaN would be NaN.");
}

}  // namespace

namespace {
void draw_memory_controls(UiState& ui, MemoryFigure shown);
}  // namespace

MemoryFigure figure_for_step(StepKind kind) {
  switch (kind) {
    case StepKind::query_load: return MemoryFigure::q_vecs;
    case StepKind::qk_iteration: return MemoryFigure::key;
    case StepKind::qk_max_warp_xor:
    case StepKind::qk_max_red_smem:
    case StepKind::qk_max_cross_warp_xor:
    case StepKind::qk_max_broadcast:
    case StepKind::exp_pass:
    case StepKind::exp_sum_warp_xor:
    case StepKind::exp_sum_red_smem:
    case StepKind::exp_sum_cross_warp_xor:
    case StepKind::exp_sum_broadcast:
    case StepKind::normalize_pass: return MemoryFigure::logits_vec;
    case StepKind::v_iteration: return MemoryFigure::value;
    case StepKind::lv_warp_xor:
    case StepKind::tree_write:
    case StepKind::tree_accumulate:
    case StepKind::output_write: return MemoryFigure::v_vec;
    case StepKind::reduce_max:
    case StepKind::reduce_rescale:
    case StepKind::reduce_output:
    case StepKind::tile_copies:  // the grouped kernel has one figure of its own (its K/V pipeline)
    case StepKind::tile_wait:
    case StepKind::grouped_qk_step:
    case StepKind::grouped_softmax_step:
    case StepKind::grouped_pv_step:
    case StepKind::grouped_block_merge:
    case StepKind::grouped_output:
    case StepKind::grouped_split_merge: break;
  }
  return MemoryFigure::logits_vec;
}

namespace {

// The grouped kernel's memory: its K/V pipeline in shared memory. Each column is a tile of the split
// in focus, in the order its copies were issued; its cell sits in the row of the stage it lands in
// (tile % num_stages), labelled with the kv_blocks its recorded copies read. The upstream figures
// (q_vecs, k_vecs, v_vec) are the v1/v2 kernel's registers and do not exist here.
void draw_grouped_pipeline(const ViewModel& model, const UiState& ui) {
  const Session& s = model.session();
  const GroupedPipeline pipeline = grouped_pipeline(s, model.seq_idx(), model.head_idx());
  const int step_index = model.clamp_step(ui.step);
  const Step& step = model.step(step_index);
  const int split = model.partition_of_step(step_index);
  const GroupedGeometry& geometry = s.kernel().grouped_plan.geometry;
  // The tile the step works on: its own index for copies and waits, the tile holding a warp step.
  int current_tile = -1;
  if (step.kind == StepKind::tile_copies || step.kind == StepKind::tile_wait) current_tile = step.index;
  if (step.kind == StepKind::grouped_qk_step || step.kind == StepKind::grouped_softmax_step ||
      step.kind == StepKind::grouped_pv_step)
    current_tile = step.index / geometry.steps_per_tile();
  text_wrapped("Shared memory of one grouped thread_block: %d pipeline stages of %s (K then V of %d tokens of one KV "
               "head), %s in all with the query rows%s. Each tile of kv_blocks is copied once by cp.async into the "
               "stage tile %% %d, and every query head of the block reads it there. Split %d of seq %d; the current "
               "tile is outlined.",
               pipeline.num_stages, format_bytes(pipeline.tile_bytes).c_str(), pipeline.tile_tokens,
               format_bytes(pipeline.shared_bytes).c_str(),
               geometry.math == GroupedMath::cuda_cores ? " and the warps' probabilities" : "", pipeline.num_stages, split,
               model.seq_idx());
  std::vector<const GroupedTile*> tiles;
  for (const GroupedTile& tile : pipeline.tiles)
    if (tile.split_idx == split) tiles.push_back(&tile);
  if (tiles.empty()) {
    ImGui::TextDisabled("No copies recorded for this split.");
    return;
  }
  const float cell_w = std::max(ImGui::CalcTextSize("L000-L000").x + 12.0f, 86.0f), cell_h = 46.0f, label_w = 70.0f;
  const Canvas c = begin_canvas("##pipeline", ImVec2(label_w + cell_w * float(tiles.size()) + 4,
                                                    cell_h * float(pipeline.num_stages) + 22));
  for (int stage = 0; stage < pipeline.num_stages; ++stage)
    c.draw->AddText(c.at(0, 20 + float(stage) * cell_h + 14), IM_COL32(200, 200, 200, 255),
                    ("stage " + std::to_string(stage)).c_str());
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const GroupedTile& tile = *tiles[i];
    const float x0 = label_w + float(i) * cell_w, y0 = 20 + float(tile.stage_idx) * cell_h;
    c.draw->AddText(c.at(x0 + 4, 2), IM_COL32(170, 170, 170, 255), ("tile " + std::to_string(tile.tile_idx)).c_str());
    const std::string label = tile.logical_blocks.empty()
                                  ? std::string("-")
                                  : "L" + std::to_string(tile.logical_blocks.front()) + "-L" +
                                        std::to_string(tile.logical_blocks.back());
    const bool current = tile.tile_idx == current_tile;
    ImU32 fill = palette(tile.tile_idx, 8, 0.45f, 0.85f);
    if (current_tile >= 0 && tile.tile_idx > current_tile) fill = dimmed(fill, 0.6f);
    draw_cell(c, x0 + 2, y0 + 2, x0 + cell_w - 2, y0 + cell_h - 4, fill, label.c_str(), current ? kSelectionColour : 0, 2.5f);
    if (c.hovered(x0, y0, x0 + cell_w, y0 + cell_h)) {
      std::string blocks;
      for (std::size_t b = 0; b < tile.logical_blocks.size(); ++b)
        blocks += (b ? ", L" : "L") + std::to_string(tile.logical_blocks[b]) + "->P" + std::to_string(tile.physical_blocks[b]);
      ImGui::SetTooltip("tile %d of split %d -> stage %d\nkv_blocks (logical->physical): %s\n%d cp.async copies: K %s, V %s "
                        "read from the cache",
                        tile.tile_idx, tile.split_idx, tile.stage_idx, blocks.c_str(), tile.num_copies,
                        format_bytes(tile.key_bytes).c_str(), format_bytes(tile.value_bytes).c_str());
    }
  }
}

}  // namespace

void draw_memory_layout_panel(const ViewModel& model, UiState& ui) {
  if (model.ready() && model.session().is_grouped()) {
    draw_grouped_pipeline(model, ui);
    return;
  }
  const MemoryFigure shown = ui.memory_follow_step && model.ready() && model.timeline().size() > 0
                                 ? figure_for_step(model.step(model.clamp_step(ui.step)).kind)
                                 : ui.memory_figure;
  if (!ui.figure_only) draw_memory_controls(ui, shown);
  const Now now(model, ui);
  if (ui.memory_follow_step && !ui.figure_only)
    ImGui::TextDisabled("showing %s, the data of this step", std::string(memory_figure_name(shown)).c_str());
  switch (shown) {
    case MemoryFigure::query: draw_query(now); break;
    case MemoryFigure::q_vecs: draw_q_vecs(now); break;
    case MemoryFigure::key: draw_key(now); break;
    case MemoryFigure::k_vecs: draw_k_vecs(now); break;
    case MemoryFigure::value: draw_value(now); break;
    case MemoryFigure::logits_vec: draw_logits_vec(now); break;
    case MemoryFigure::v_vec: draw_v_vec(now); break;
  }
}

namespace {

// The row of figure choices, colouring and zoom above the figure.
void draw_memory_controls(UiState& ui, MemoryFigure shown) {
  if (ImGui::RadioButton("follow the step", ui.memory_follow_step)) ui.memory_follow_step = true;
  for (int f = 0; f < kNumMemoryFigures; ++f) {
    ImGui::SameLine();
    const auto figure = static_cast<MemoryFigure>(f);
    if (ImGui::RadioButton(std::string(memory_figure_name(figure)).c_str(), !ui.memory_follow_step && shown == figure)) {
      ui.memory_figure = figure;
      ui.memory_follow_step = false;
    }
  }
  ImGui::SameLine(0, 20);
  ImGui::SetNextItemWidth(120);
  int colour = static_cast<int>(ui.colour_by);
  const char* colour_names[kNumColourBy] = {"thread group", "warp", "lane", "iteration (outer loop)",
                                            "k_vecs[j] / row i (inner loop)"};
  if (ImGui::Combo("colour by", &colour, colour_names, kNumColourBy)) ui.colour_by = static_cast<ColourBy>(colour);
  ImGui::SameLine();
  help_marker("thread group: the loading thread group (value loads, which belong to lanes, by lane). iteration: the "
              "kv_block loop. k_vecs[j] / row i: the loop inside an iteration: which k_vecs[j] a key element lands in, "
              "which row accs[i] a value element is for.");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(100);
  ImGui::SliderFloat("zoom", &ui.memory_zoom, 0.5f, 3.0f, "%.1fx");
}

}  // namespace

}  // namespace pal::viz
