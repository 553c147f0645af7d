# sanity_curves.gp - each similarity to the original maps against the steps of randomization,
# one line per method: the mean over the images and its 95 % bootstrap interval (a band).
# Variables (gnuplot -e): term, out, file (columns: step, then per method and measure mean, low,
# high; measures spearman_abs, spearman_signed, ssim), n (methods), names, images; the x tics
# (the steps' layers) are set on the command line.
if (term eq "pdf") { set terminal pdfcairo size 11, 4 font "Sans,7" } else { set terminal pngcairo size 1500, 560 font "Sans,9" }
set termoption noenhanced
set output out
set multiplot layout 1, 3 title sprintf("similarity to the original maps, %d image(s): mean and 95 %% bootstrap interval", images) font ",10"
set xtics rotate by 60 right font ",6"
set yrange [-0.2:1.05]
set grid ytics
set key bottom left font ",7"
set style fill transparent solid 0.2 noborder
set bmargin 9
do for [k = 1:3] {
    set title (k == 1 ? "Spearman of |map|" : k == 2 ? "Spearman of the signed map" : "SSIM of |map|")
    set ylabel "similarity"
    plot for [m = 1:n] file using 1:(column(1 + 9 * (m - 1) + 3 * (k - 1) + 2)):(column(1 + 9 * (m - 1) + 3 * (k - 1) + 3)) with filledcurves lc m notitle, \
         for [m = 1:n] file using 1:(column(1 + 9 * (m - 1) + 3 * (k - 1) + 1)) with linespoints lc m pt 7 ps 0.4 title word(names, m)
}
unset multiplot
