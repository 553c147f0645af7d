# figure1.gp - the comparison figure for one image: original (crop) | one panel per method.
# Variables (the .vars.gp file before it): term ("png" or "pdf"), out, title, caption, n
# (methods), dir (data folder with original.rgb and map1.f32 .. mapN.f32), names (method
# titles, words), size (pixels per side).
# The panels are placed by hand: the title on a row of its own, the column titles under it,
# the caption under the panels.
cell = 240; head = 62; foot = 30; gap = 8
W = (n + 1) * cell; H = head + cell + foot
if (term eq "pdf") { set terminal pdfcairo size W / 100.0, H / 100.0 font "Sans,9" } else { set terminal pngcairo size W, H font "Sans,10" }
set termoption noenhanced
set output out
set multiplot
set label 1 title at screen 0.5, 1.0 - 16.0 / H center font ",12"
set label 2 caption at screen 0.5, 12.0 / H center font ",8"
unset border; unset tics; unset key; unset colorbox
set xrange [-0.5:size - 0.5]; set yrange [-0.5:size - 0.5]
set palette defined (0 "black", 0.35 "#7a0000", 0.7 "#ff8000", 1 "#ffffc0")
set cbrange [0:1]
set tmargin at screen 1.0 - (head + gap / 2) / (1.0 * H)
set bmargin at screen 1.0 - (head + cell - gap / 2) / (1.0 * H)
do for [k = 0:n] {
    set lmargin at screen (k * cell + gap / 2) / (1.0 * W)
    set rmargin at screen ((k + 1) * cell - gap / 2) / (1.0 * W)
    set title (k == 0 ? "original (crop)" : word(names, k)) offset 0, -0.4
    if (k == 0) {
        plot dir . "/original.rgb" binary array=(size,size) format="%uchar%uchar%uchar" flipy with rgbimage
    } else {
        plot sprintf("%s/map%d.f32", dir, k) binary array=(size,size) format="%float" flipy with image
    }
    unset label 1; unset label 2
}
unset multiplot
