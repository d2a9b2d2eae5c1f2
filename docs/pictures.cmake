# Every picture of the docs, in one place. Each line renders one PNG with pal-viz from the run of
# the chapter it belongs to (see render_picture.cmake); the chapter pages show them with
# \image html <name>.png, and Doxygen (WARN_AS_ERROR) fails on a page that names a picture this list
# does not make.
#
#   pal_doc_picture(<chapter> <name> PANEL <panel> STEP <step> [FIGURE <figure>] [SIZE WxH] [EXTRA <flags...>])
#
# <chapter> is the walkthrough's base name (01_inputs_and_paging); <step> a pal-viz step: an index,
# "last", or a stage name (its first step). EXTRA --compare A,B renders the chapter's scenario with
# both versions (render_picture.cmake then drops the chapter's own --version).
pal_doc_picture(01_inputs_and_paging ch01_paging PANEL paging STEP 0 SIZE 1200x500)
pal_doc_picture(02_concepts ch02_threads PANEL threads STEP qk_logits SIZE 1200x400)
pal_doc_picture(02_concepts ch02_timeline PANEL timeline STEP qk_logits SIZE 1200x760)
pal_doc_picture(03_query ch03_query PANEL memory FIGURE query STEP query_load SIZE 1200x320)
pal_doc_picture(03_query ch03_q_vecs PANEL memory FIGURE q_vecs STEP query_load SIZE 1200x290)
pal_doc_picture(04_key ch04_key PANEL memory FIGURE key STEP qk_logits SIZE 1200x640)
pal_doc_picture(04_key ch04_k_vecs PANEL memory FIGURE k_vecs STEP qk_logits SIZE 1200x320)
pal_doc_picture(04_key ch04_coalescing PANEL coalescing STEP qk_logits SIZE 1200x520)
pal_doc_picture(05_qk ch05_logits PANEL softmax STEP qk_max SIZE 1200x420)
pal_doc_picture(06_softmax ch06_qk_max_butterfly PANEL reductions STEP qk_max SIZE 1200x700)
pal_doc_picture(06_softmax ch06_softmax PANEL softmax STEP softmax SIZE 1200x800)
pal_doc_picture(07_value ch07_value PANEL memory FIGURE value STEP value_accumulation SIZE 1200x1020)
pal_doc_picture(07_value ch07_logits_vec PANEL memory FIGURE logits_vec STEP value_accumulation SIZE 1200x440)
pal_doc_picture(07_value ch07_v_vec PANEL memory FIGURE v_vec STEP value_accumulation SIZE 1200x270)
pal_doc_picture(08_lv ch08_lv_butterfly PANEL reductions STEP lv_warp_reduction SIZE 1200x690)
pal_doc_picture(08_lv ch08_tree PANEL reductions STEP cross_warp_tree SIZE 1200x300)
pal_doc_picture(09_output ch09_output PANEL output STEP last SIZE 1200x720)
pal_doc_picture(10_v2_partitions ch10_partition_merge PANEL reductions STEP partition_reduce SIZE 1200x260)
pal_doc_picture(10_v2_partitions ch10_paging PANEL paging STEP 0 SIZE 1200x620)
pal_doc_picture(10_v2_partitions ch10_timeline PANEL timeline STEP partition_reduce SIZE 1200x760)
pal_doc_picture(11_gqa_alibi ch11_threads PANEL threads STEP qk_logits SIZE 1200x400)
pal_doc_picture(11_gqa_alibi ch11_softmax PANEL softmax STEP softmax SIZE 1200x800)
pal_doc_picture(12_what_came_next ch12_paging PANEL paging STEP 0 SIZE 1200x580)
pal_doc_picture(13_grouped_kernel ch13_paging PANEL paging STEP 0 SIZE 1200x580)
pal_doc_picture(13_grouped_kernel ch13_compare PANEL compare STEP 0 SIZE 1200x760 EXTRA --compare v1,grouped)
pal_doc_picture(14_fp8_kv_cache ch14_coalescing PANEL coalescing STEP qk_logits SIZE 1200x520)
pal_doc_picture(15_block_sparse ch15_paging PANEL paging STEP 0 SIZE 1200x700)
