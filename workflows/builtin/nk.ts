// Built-in NK process: autologous, IL-2 activated, 21 days, infused fresh (the process used by
// hospital laboratories in Vietnam and Japan). Figures from /work/shared/domain/processes.md:
// Lapteva et al., Cytotherapy 2012;14:1131; Sakamoto et al., J Transl Med 2015; Nhung et al., Oncol Lett
// 2018;15:5730; Liem et al., IJMS 2019;20:3166. A site changes a figure by issuing a new version.
import type { ProcessDefinitionInput } from '../definition.js';
import { operatorSigns, operatorSignsVerified, PERCENT, qcSigns, releaseMycoplasma, releaseViability, TEMPERATURE, viability } from './common.js';

const DAY_0 = { step: 'culture-start', field: 'startTime' };

const nkCells = { name: 'nkPercent', label: { en: 'NK cells (CD3−CD56+)', vi: 'Tế bào NK (CD3−CD56+)' }, kind: 'number' as const, ...PERCENT };

export const nk: ProcessDefinitionInput = {
  id: 'nk',
  // Version 2 (issue 11, finding 9): the 4-hour PBMC and plasma windows run from the receipt time the
  // blood receipt records (receivedAt), not from when the receipt was entered. Batches started on
  // version 1 keep it.
  version: 2,
  name: 'Autologous NK cells (IL-2 activated, 21 days)',
  title: { en: 'NK cell manufacturing (autologous, IL-2 activated)', vi: 'Sản xuất tế bào NK (tự thân, hoạt hóa bằng IL-2)' },
  productType: 'NK',
  description: {
    en: 'Autologous NK cells expanded from peripheral blood over 21 days with IL-2 and an activation reagent, formulated in saline and infused fresh.',
    vi: 'Tế bào NK tự thân được nuôi cấy tăng sinh từ máu ngoại vi trong 21 ngày với IL-2 và chất hoạt hóa, pha trong nước muối sinh lý và truyền tươi.',
  },
  autologous: true,
  phases: [
    {
      id: 'receipt',
      title: { en: 'Receipt', vi: 'Tiếp nhận' },
      steps: [
        {
          id: 'blood-receipt',
          title: { en: 'Blood receipt', vi: 'Tiếp nhận máu ngoại vi' },
          instructions: {
            en: 'Scan the DIN on the blood bag, check that the bag is intact and correctly labelled, and record the collection time, the receipt time, the volume and the transport temperature.',
            vi: 'Quét mã DIN trên túi máu, kiểm tra túi còn nguyên vẹn và dán nhãn đúng, ghi lại thời điểm lấy máu, thời điểm tiếp nhận, thể tích và nhiệt độ vận chuyển.',
          },
          after: [],
          // Received no later than 24 h after collection, judged from the step's own values.
          window: { from: { field: 'collectedAt' }, at: { field: 'receivedAt' }, closesAfterHours: 24 },
          fields: [
            { name: 'bagScan', label: { en: 'Blood bag DIN (scan)', vi: 'Mã DIN túi máu (quét mã)' }, kind: 'identity', identity: 'din' },
            { name: 'collectedAt', label: { en: 'Collection time', vi: 'Thời điểm lấy máu' }, kind: 'datetime' },
            { name: 'receivedAt', label: { en: 'Received at', vi: 'Thời điểm tiếp nhận' }, kind: 'datetime' },
            { name: 'volume', label: { en: 'Volume', vi: 'Thể tích' }, kind: 'number', unit: 'mL', decimals: 1, limits: { min: 0 }, spec: { min: 40, max: 60 } },
            { name: 'transportTemperature', label: { en: 'Transport temperature', vi: 'Nhiệt độ vận chuyển' }, kind: 'number', ...TEMPERATURE, spec: { min: 15, max: 25 } },
          ],
          signatures: operatorSigns,
        },
      ],
    },
    {
      id: 'isolation-activation',
      title: { en: 'Isolation and activation', vi: 'Phân lập và hoạt hóa' },
      steps: [
        {
          id: 'pbmc-isolation',
          title: { en: 'PBMC isolation', vi: 'Phân lập tế bào đơn nhân máu ngoại vi (PBMC)' },
          instructions: {
            en: 'Isolate the mononuclear cells by density-gradient centrifugation in the biosafety cabinet, wash them, then count the PBMC and their viability.',
            vi: 'Phân lập tế bào đơn nhân bằng ly tâm theo gradient tỷ trọng trong tủ an toàn sinh học, rửa tế bào, sau đó đếm PBMC và xác định khả năng sống.',
          },
          after: ['blood-receipt'],
          window: { from: { step: 'blood-receipt', field: 'receivedAt' }, closesAfterHours: 4 },
          fields: [
            { name: 'centrifuge', label: { en: 'Centrifuge', vi: 'Máy ly tâm' }, kind: 'equipment', equipmentType: 'centrifuge' },
            { name: 'biosafetyCabinet', label: { en: 'Biosafety cabinet', vi: 'Tủ an toàn sinh học' }, kind: 'equipment', equipmentType: 'biosafety-cabinet' },
            { name: 'densityGradientLot', label: { en: 'Density-gradient medium lot', vi: 'Lô môi trường tách theo gradient tỷ trọng' }, kind: 'lot', materialType: 'density-gradient-medium' },
            { name: 'pbmcCount', label: { en: 'PBMC count', vi: 'Số lượng PBMC' }, kind: 'number', unit: '10^6', decimals: 1, limits: { min: 0 } },
            { ...viability, spec: { min: 90 } },
          ],
          signatures: operatorSignsVerified,
        },
        {
          id: 'plasma-preparation',
          title: { en: 'Autologous plasma preparation', vi: 'Chuẩn bị huyết tương tự thân' },
          instructions: {
            en: 'Collect the autologous plasma from the blood, heat-inactivate it and record the volume; it supplements the culture medium.',
            vi: 'Thu huyết tương tự thân từ máu, bất hoạt bằng nhiệt và ghi lại thể tích; huyết tương được dùng để bổ sung vào môi trường nuôi cấy.',
          },
          // Prepared with the PBMC isolation, from the same blood.
          after: ['blood-receipt'],
          window: { from: { step: 'blood-receipt', field: 'receivedAt' }, closesAfterHours: 4 },
          fields: [
            { name: 'heatInactivated', label: { en: 'Heat-inactivated', vi: 'Đã bất hoạt bằng nhiệt' }, kind: 'boolean' },
            { name: 'plasmaVolume', label: { en: 'Plasma volume', vi: 'Thể tích huyết tương' }, kind: 'number', unit: 'mL', decimals: 1, limits: { min: 0 } },
          ],
          signatures: operatorSigns,
        },
        {
          id: 'culture-start',
          title: { en: 'Culture start (day 0)', vi: 'Bắt đầu nuôi cấy (ngày 0)' },
          instructions: {
            en: 'Seed the PBMC in medium with IL-2 and the activation reagent, and record the start time: it is day 0 of the process.',
            vi: 'Cấy PBMC vào môi trường có IL-2 và chất hoạt hóa, ghi lại thời điểm bắt đầu: đây là ngày 0 của quy trình.',
          },
          after: ['pbmc-isolation', 'plasma-preparation'],
          fields: [
            { name: 'mediumLot', label: { en: 'Medium lot', vi: 'Lô môi trường' }, kind: 'lot', materialType: 'medium' },
            { name: 'il2Lot', label: { en: 'IL-2 lot', vi: 'Lô IL-2' }, kind: 'lot', materialType: 'il-2' },
            { name: 'activationReagentLot', label: { en: 'Activation reagent lot', vi: 'Lô chất hoạt hóa' }, kind: 'lot', materialType: 'activation-reagent' },
            { name: 'cellsSeeded', label: { en: 'Cells seeded', vi: 'Số tế bào được cấy' }, kind: 'number', unit: '10^6', decimals: 1, limits: { min: 0 } },
            { name: 'startTime', label: { en: 'Culture start (day 0)', vi: 'Thời điểm bắt đầu nuôi cấy (ngày 0)' }, kind: 'datetime' },
          ],
          signatures: operatorSignsVerified,
        },
      ],
    },
    {
      id: 'expansion',
      title: { en: 'Expansion', vi: 'Nuôi cấy tăng sinh' },
      steps: [
        {
          id: 'culture-check',
          title: { en: 'Culture check', vi: 'Kiểm tra nuôi cấy' },
          instructions: {
            en: 'Sample the culture, measure the viable cell density and viability, record the culture volume, any IL-2 medium added with its lots, and whether the culture was moved from flasks to a bag.',
            vi: 'Lấy mẫu dịch nuôi cấy, đo mật độ tế bào sống và khả năng sống, ghi lại thể tích dịch nuôi cấy, thể tích môi trường có IL-2 bổ sung (nếu có) cùng số lô, và việc chuyển dịch nuôi cấy từ bình sang túi (nếu có).',
          },
          after: ['culture-start'],
          repeatable: true,
          occurrences: { days: [4, 7, 10, 14, 17], from: DAY_0 },
          fields: [
            { name: 'cultureDay', label: { en: 'Culture day', vi: 'Ngày nuôi cấy' }, kind: 'integer', unit: 'day', computed: { daysSince: DAY_0 } },
            { name: 'viableCellDensity', label: { en: 'Viable cell density', vi: 'Mật độ tế bào sống' }, kind: 'number', unit: '10^6/mL', decimals: 2, limits: { min: 0 } },
            { name: 'cultureVolume', label: { en: 'Culture volume', vi: 'Thể tích dịch nuôi cấy' }, kind: 'number', unit: 'mL', decimals: 1, limits: { min: 0 } },
            {
              name: 'viableCellCount',
              label: { en: 'Viable cell count', vi: 'Số lượng tế bào sống' },
              kind: 'number',
              unit: '10^6',
              decimals: 1,
              computed: { mul: [{ field: 'viableCellDensity' }, { field: 'cultureVolume' }] },
            },
            viability,
            { name: 'mediumAdded', label: { en: 'IL-2 medium added', vi: 'Thể tích môi trường có IL-2 bổ sung' }, kind: 'number', unit: 'mL', decimals: 1, limits: { min: 0 }, required: false },
            { name: 'mediumLot', label: { en: 'Medium lot', vi: 'Lô môi trường' }, kind: 'lot', materialType: 'medium', required: false },
            { name: 'il2Lot', label: { en: 'IL-2 lot', vi: 'Lô IL-2' }, kind: 'lot', materialType: 'il-2', required: false },
            { name: 'vesselTransfer', label: { en: 'Transferred from flasks to a culture bag', vi: 'Đã chuyển từ bình nuôi cấy sang túi nuôi cấy' }, kind: 'boolean' },
          ],
          signatures: operatorSigns,
        },
        {
          id: 'in-process-control',
          title: { en: 'In-process control, day 14', vi: 'Kiểm soát trong quá trình, ngày 14' },
          instructions: {
            en: 'Test the day-14 culture sample by flow cytometry and record the NK (CD3−CD56+) fraction and the viability.',
            vi: 'Phân tích mẫu dịch nuôi cấy ngày 14 bằng phương pháp đếm tế bào dòng chảy, ghi lại tỷ lệ tế bào NK (CD3−CD56+) và khả năng sống.',
          },
          after: ['culture-start'],
          window: { from: DAY_0, opensAfterHours: 312, closesAfterHours: 360 },
          fields: [nkCells, viability],
          signatures: qcSigns,
        },
      ],
    },
    {
      id: 'harvest-formulation',
      title: { en: 'Harvest and formulation', vi: 'Thu hoạch và pha chế thành phẩm' },
      steps: [
        {
          id: 'harvest',
          title: { en: 'Harvest', vi: 'Thu hoạch tế bào' },
          instructions: {
            en: 'Collect the culture, count the total cells and viability, and send samples for flow cytometry and release testing.',
            vi: 'Thu dịch nuôi cấy, đếm tổng số tế bào và xác định khả năng sống, gửi mẫu đi phân tích tế bào dòng chảy và kiểm nghiệm xuất xưởng.',
          },
          after: ['culture-check', 'in-process-control'],
          window: { from: DAY_0, opensAfterHours: 480, closesAfterHours: 528 },
          fields: [
            { name: 'totalCells', label: { en: 'Total cells', vi: 'Tổng số tế bào' }, kind: 'number', unit: '10^9', decimals: 2, limits: { min: 0 } },
            { ...viability, spec: { min: 90 } },
            { ...nkCells, spec: { min: 50 } },
            {
              name: 'foldExpansion',
              label: { en: 'Fold expansion', vi: 'Hệ số tăng sinh' },
              kind: 'number',
              decimals: 1,
              // Total cells are counted in 10^9, cells seeded in 10^6.
              computed: { div: [{ mul: [{ field: 'totalCells' }, 1000] }, { step: 'culture-start', field: 'cellsSeeded' }] },
            },
          ],
          signatures: operatorSignsVerified,
        },
        {
          id: 'formulation',
          title: { en: 'Formulation', vi: 'Pha chế thành phẩm' },
          instructions: {
            en: 'Wash the cells, resuspend the infusion dose in saline in a single bag, then label the bag and scan the label.',
            vi: 'Rửa tế bào, tái huyền phù liều truyền trong nước muối sinh lý vào một túi duy nhất, sau đó dán nhãn túi và quét mã nhãn.',
          },
          after: ['harvest'],
          window: { from: { step: 'harvest' }, closesAfterHours: 2 },
          fields: [
            { name: 'salineLot', label: { en: 'Saline lot', vi: 'Lô nước muối sinh lý' }, kind: 'lot', materialType: 'saline' },
            { name: 'finalVolume', label: { en: 'Final volume', vi: 'Thể tích cuối cùng' }, kind: 'number', unit: 'mL', decimals: 1, limits: { min: 0 } },
            { name: 'cellsPerInfusion', label: { en: 'Cells per infusion', vi: 'Số tế bào mỗi lần truyền' }, kind: 'number', unit: '10^9', decimals: 2, limits: { min: 0 }, spec: { min: 0.5, max: 2 } },
            { name: 'labelScan', label: { en: 'Bag label (scan)', vi: 'Nhãn túi (quét mã)' }, kind: 'identity', identity: 'batchNumber' },
          ],
          signatures: operatorSignsVerified,
        },
      ],
    },
    {
      id: 'release-testing',
      title: { en: 'Release testing', vi: 'Kiểm nghiệm xuất xưởng' },
      // One step per test: they open when the batch enters QC testing and run in parallel. The product
      // is infused fresh: it is released on the rapid tests and the sterility culture follows.
      steps: [
        releaseViability,
        {
          id: 'release-nk-purity',
          title: { en: 'NK purity (CD3−CD56+)', vi: 'Độ tinh khiết NK (CD3−CD56+)' },
          stage: 'release',
          after: [],
          fields: [{ ...nkCells, kind: 'result', spec: { min: 50 } }],
          signatures: qcSigns,
        },
        {
          id: 'release-endotoxin',
          title: { en: 'Endotoxin', vi: 'Nội độc tố' },
          stage: 'release',
          after: [],
          fields: [
            { name: 'endotoxin', label: { en: 'Endotoxin', vi: 'Nội độc tố' }, kind: 'result', unit: 'EU/mL', decimals: 2, limits: { min: 0 }, spec: { maxExclusive: 5 } },
          ],
          signatures: qcSigns,
        },
        {
          id: 'release-gram-stain',
          title: { en: 'Gram stain', vi: 'Nhuộm Gram' },
          stage: 'release',
          after: [],
          fields: [
            {
              name: 'gramStain',
              label: { en: 'Gram stain', vi: 'Nhuộm Gram' },
              kind: 'result',
              options: ['no organisms seen', 'organisms seen'],
              spec: { oneOf: ['no organisms seen'] },
            },
          ],
          signatures: qcSigns,
        },
        {
          id: 'release-sterility',
          title: { en: 'Sterility (culture)', vi: 'Vô trùng (nuôi cấy)' },
          instructions: {
            en: 'Record the result of the sterility culture. It usually arrives after the fresh product was released: a growth then opens a deviation and flags the released product.',
            vi: 'Ghi lại kết quả nuôi cấy vô trùng. Kết quả thường có sau khi sản phẩm tươi đã được xuất xưởng: nếu có vi sinh vật mọc, một sai lệch được mở và sản phẩm đã xuất xưởng bị gắn cờ.',
          },
          stage: 'release',
          after: [],
          mayFollowRelease: true,
          fields: [
            { name: 'sterility', label: { en: 'Sterility', vi: 'Vô trùng' }, kind: 'result', options: ['no growth', 'growth'], spec: { oneOf: ['no growth'] } },
          ],
          signatures: qcSigns,
        },
        releaseMycoplasma,
        {
          id: 'release-potency',
          title: { en: 'Potency (K562 cytotoxicity)', vi: 'Hiệu lực (độc tính trên tế bào K562)' },
          instructions: {
            en: 'Run the cytotoxicity assay against K562 target cells at E:T 20:1 and record the specific lysis.',
            vi: 'Thực hiện thử nghiệm độc tế bào với tế bào đích K562 ở tỷ lệ E:T 20:1 và ghi lại tỷ lệ ly giải đặc hiệu.',
          },
          stage: 'release',
          after: [],
          fields: [
            { name: 'k562Lysis', label: { en: 'K562 lysis at E:T 20:1', vi: 'Tỷ lệ ly giải K562 ở E:T 20:1' }, kind: 'result', ...PERCENT, spec: { minExclusive: 20 } },
          ],
          signatures: qcSigns,
        },
        {
          id: 'release-dose',
          title: { en: 'Cell dose', vi: 'Liều tế bào' },
          stage: 'release',
          after: [],
          fields: [
            { name: 'cellDose', label: { en: 'Cells in the infusion bag', vi: 'Số tế bào trong túi truyền' }, kind: 'result', unit: '10^9', decimals: 2, limits: { min: 0 }, spec: { min: 0.5, max: 2 } },
          ],
          signatures: qcSigns,
        },
      ],
    },
  ],
};
